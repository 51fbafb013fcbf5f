"""Where the real training logs written by other projects are: `shared/real-logs` beside this
checkout (or `$MLMON_REAL_LOGS`)."""

from __future__ import annotations

import os
from pathlib import Path

REAL_LOGS = Path(os.environ.get("MLMON_REAL_LOGS")
                 or Path(__file__).resolve().parent.parent.parent / "shared" / "real-logs")
