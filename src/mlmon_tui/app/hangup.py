"""A closed terminal or SSH session (SIGHUP) or a plain `kill` (SIGTERM) must not leave the
monitor running behind, nor the demo's writer and files: quit as `q` does, and if the app
cannot (its terminal is gone, a write is stuck), clean up and exit anyway a moment later."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

GRACE_SECONDS = 2.0


def install(app, cleanup: Callable[[], None] | None = None) -> None:
    def on_signal(signum, _frame) -> None:
        def hard_exit() -> None:
            time.sleep(GRACE_SECONDS)
            try:
                if cleanup is not None:
                    cleanup()
            finally:
                os._exit(128 + signum)

        threading.Thread(target=hard_exit, name="mlmon-hangup", daemon=True).start()
        try:
            app.exit()
        except Exception:
            pass

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, on_signal)
