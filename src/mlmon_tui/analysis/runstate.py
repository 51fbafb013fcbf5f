"""A run's state as shown everywhere (runs list, Prometheus export, cluster view)."""

from __future__ import annotations

LIVE_SECONDS = 60.0
STATES = ("live", "idle", "stalled", "finished", "crashed")


def run_state(health_state: str, last_wall: float | None, now: float) -> str:
    """The health monitor's verdict when it has one; otherwise "live" while data arrived in the
    last minute (by its logged time) and "idle" after."""
    if health_state in ("live", "stalled", "finished", "crashed"):
        return health_state
    if last_wall is None:
        return "idle"
    return "live" if now - last_wall < LIVE_SECONDS else "idle"
