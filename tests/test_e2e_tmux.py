"""End to end: the installed `mlmon-tui` in a real terminal (tmux), fed by a real writer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

tensorboardX = pytest.importorskip("tensorboardX")
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _entry_point() -> list[str]:
    exe = Path(sys.executable).with_name("mlmon-tui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mlmon_tui"]


def _capture(session: str) -> str:
    out = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                         capture_output=True, text=True)
    return out.stdout


def _wait_for(session: str, predicate, timeout: float) -> tuple[bool, str, float]:
    start = time.monotonic()
    screen = ""
    while time.monotonic() - start < timeout:
        screen = _capture(session)
        if predicate(screen):
            return True, screen, time.monotonic() - start
        time.sleep(0.05)
    return False, screen, time.monotonic() - start


@pytest.fixture
def tmux_session(tmp_path):
    name = f"mlmon-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_live_update_reaches_screen_and_q_quits(tmp_path, tmux_session):
    logdir = tmp_path / "logs"
    writer = tensorboardX.SummaryWriter(str(logdir / "exp-alpha"), flush_secs=1)
    for step in range(10):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
    writer.flush()

    done = tmp_path / "exit-code"
    cmd = " ".join(_entry_point()) + f" {logdir}; echo $? > {done}"
    env = dict(os.environ, TERM="xterm-256color")
    subprocess.run(["tmux", "new-session", "-d", "-s", tmux_session, "-x", "120", "-y", "36",
                    cmd], check=True, env=env)

    ok, screen, _ = _wait_for(tmux_session, lambda s: "exp-alpha" in s and "train/" in s, 20)
    assert ok, f"the run never appeared:\n{screen}"

    writer.add_scalar("train/loss", 0.01, 4321)
    writer.flush()
    ok, screen, latency = _wait_for(tmux_session, lambda s: "4321" in s, 2.0)
    assert ok, f"step 4321 did not reach the screen within 2 s:\n{screen}"

    subprocess.run(["tmux", "send-keys", "-t", tmux_session, "q"], check=True)
    deadline = time.monotonic() + 5
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done.exists(), f"q did not quit:\n{_capture(tmux_session)}"
    assert done.read_text().strip() == "0"
    writer.close()
