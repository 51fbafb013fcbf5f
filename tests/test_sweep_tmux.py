"""In a real terminal (tmux), at 80x24 and 160x48: no two run names in the runs list read
the same, on a generated sweep and on ../shared/real-logs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tmux_util import new_session

import sweepdata
from reallogs import REAL_LOGS

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
ROW = re.compile(r"^[●○] (.+?)\s+(\d+[kM]?|-)(\s|$)")


def _entry_point() -> list[str]:
    exe = Path(sys.executable).with_name("mlmon-tui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mlmon_tui"]


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                          capture_output=True, text=True).stdout


def _names(screen: str) -> list[str]:
    return [m.group(1).strip() for line in screen.splitlines() if (m := ROW.match(line))]


def _runs_count(screen: str) -> int | None:
    m = re.search(r"(\d+) runs ·", screen)
    return int(m.group(1)) if m else None


@pytest.fixture
def session():
    name = f"mlmon-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def _shown_names(path: Path, size: tuple[int, int], session: str, timeout: float) -> list[str]:
    cmd = " ".join(_entry_point() + [str(path), "--no-gpu", "--no-listen"])
    env = dict(os.environ, TERM="xterm-256color", PYTHONPATH=os.pathsep.join(sys.path))
    new_session(session, size[0], size[1], cmd, env)
    deadline = time.monotonic() + timeout
    last, since, screen = None, time.monotonic(), ""
    while time.monotonic() < deadline:  # until the number of runs has settled for 3 s
        screen = _capture(session)
        n = _runs_count(screen)
        if n != last:
            last, since = n, time.monotonic()
        elif n and _names(screen) and time.monotonic() - since > 3.0:
            break
        time.sleep(0.2)
    subprocess.run(["tmux", "send-keys", "-t", session, "q"], capture_output=True)
    return _names(screen)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_runs_list_names_are_distinct_on_a_sweep(tmp_path, session, size):
    root = sweepdata.write_jsonl(tmp_path / "logs", sweepdata.sweep())
    names = _shown_names(root, size, session, timeout=60)
    assert len(names) >= min(12, size[1] - 8), names
    assert len(set(names)) == len(names), names
    assert all(n.startswith(("lr=", "…", "0.")) or "/" in n for n in names), names


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_runs_list_names_are_distinct_on_real_logs(session, size):
    if not REAL_LOGS.is_dir():
        pytest.skip(f"no real logs at {REAL_LOGS}")
    names = _shown_names(REAL_LOGS, size, session, timeout=240)
    assert names
    assert len(set(names)) == len(names), names
