"""The one locator of the real training logs written by other projects: `$MLMON_REAL_LOGS`,
else `shared/real-logs` beside this checkout. Tests that need them skip with `REASON` when
they are absent (a fresh clone with nothing beside it); `.ci/run` provides them."""

from __future__ import annotations

import os
from pathlib import Path

REAL_LOGS = Path(os.environ.get("MLMON_REAL_LOGS")
                 or Path(__file__).resolve().parent.parent.parent / "shared" / "real-logs")
PRESENT = REAL_LOGS.is_dir()
REASON = f"real logs not found at {REAL_LOGS} (set MLMON_REAL_LOGS)"
