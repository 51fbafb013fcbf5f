"""Starting a tmux session for the end-to-end tests, with the retry they all need."""

from __future__ import annotations

import subprocess
import time


def new_session(session: str, width: int, height: int, cmd: str, env: dict | None = None,
                tries: int = 4) -> None:
    """`tmux new-session -d` for `cmd` in a `width` x `height` pane. The server of the
    previous test may be shutting down as this one starts (its last session was killed), and
    tmux then fails with "server exited unexpectedly": try again a few times, and fail with
    tmux's own message."""
    argv = ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height),
            cmd]
    for attempt in range(tries):
        got = subprocess.run(argv, env=env, capture_output=True, text=True)
        if got.returncode == 0:
            return
        if attempt + 1 < tries:
            time.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"tmux new-session failed {tries} times: {got.stderr.strip()}")
