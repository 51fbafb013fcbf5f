"""Helpers shared by the framework callbacks (standard library only)."""

from __future__ import annotations


def scalars(logs) -> dict[str, float]:
    """The entries of `logs` that are numbers (Python, numpy or one-element tensors)."""
    out = {}
    for k, v in (logs or {}).items():
        if isinstance(v, bool) or isinstance(v, (str, bytes)):
            continue
        try:
            if hasattr(v, "numel") and v.numel() != 1:
                continue
            f = float(v.item() if hasattr(v, "item") else v)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            continue
        out[str(k)] = f
    return out


def plain(d) -> dict:
    """A JSON-friendly copy of a hyper-parameter mapping (other values become strings)."""
    out = {}
    for k, v in dict(d or {}).items():
        if v is None or isinstance(v, (bool, int, float, str)):
            out[str(k)] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str))
                                                  for x in v):
            out[str(k)] = list(v)
        else:
            out[str(k)] = repr(v)
    return out


class OwnedMonitor:
    """A callback's monitor: the one it was given, or one it opens (and then closes)."""

    def __init__(self, monitor=None, run=None, address=None, **kw):
        self._given = monitor
        self._args = dict(run=run, address=address, **kw)
        self.monitor = monitor

    def open(self, run=None):
        if self.monitor is None:
            from mlmon_tui.client import Monitor

            args = dict(self._args)
            args["run"] = args["run"] or run
            self.monitor = Monitor(**args)
        return self.monitor

    def finish(self):
        if self.monitor is None:
            return
        if self._given is None:
            self.monitor.close()
            self.monitor = None
        else:
            self.monitor.flush(1.0)
