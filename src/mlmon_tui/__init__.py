"""mlmon-tui: a terminal live monitor for machine-learning training."""

__version__ = "0.1.0"
