"""Alerts that reach a person who is not looking: bell, terminal desktop notification, a shell
command and a webhook per new finding, each announced once per session."""

from mlmon_tui.app.alerts.alerter import AlertOptions, Alerter
from mlmon_tui.app.alerts.options import add_alert_options, alert_options

__all__ = ["AlertOptions", "Alerter", "add_alert_options", "alert_options"]
