"""Training-health analysis: incremental detectors over the store, producing `Finding`s."""

from mlmon_tui.analysis.config import DEFAULT, HealthConfig, load_config
from mlmon_tui.analysis.findings import KINDS, SEVERITIES, Finding, severity_rank
from mlmon_tui.analysis.monitor import HealthMonitor
from mlmon_tui.analysis.resources import ResourceSample, samples_from_history

__all__ = ["DEFAULT", "KINDS", "SEVERITIES", "Finding", "HealthConfig", "HealthMonitor",
           "ResourceSample", "load_config", "samples_from_history", "severity_rank"]
