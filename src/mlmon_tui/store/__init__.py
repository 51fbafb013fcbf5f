from mlmon_tui.store.series import Series
from mlmon_tui.store.store import RunInfo, Store

__all__ = ["RunInfo", "Series", "Store"]
