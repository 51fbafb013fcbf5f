"""Prometheus export: the agent (headless) and the /metrics endpoint the monitor can serve."""
