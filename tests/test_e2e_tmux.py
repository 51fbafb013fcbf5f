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
from tmux_util import new_session

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
    new_session(tmux_session, 120, 36, cmd, env)

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


def _start_demo(tmp_path, session):
    import psutil

    done = tmp_path / "exit-code"
    cmd = " ".join(_entry_point()) + f" demo --no-gpu; echo $? > {done}"
    new_session(session, 160, 48, cmd, dict(os.environ, TERM="xterm-256color"))
    ok, screen, _ = _wait_for(session, lambda s: "resnet-baseline" in s and "keras" in s, 30)
    assert ok, f"the demo's runs never appeared:\n{screen}"
    writers = [p for p in psutil.process_iter(["cmdline", "ppid"])
               if "mlmon_tui.app.demo_write" in " ".join(p.info["cmdline"] or [])]
    mine = [p for p in writers if psutil.Process(p.info["ppid"]).cmdline()[-2:] == ["demo", "--no-gpu"]]
    assert len(mine) == 1, writers
    argv = mine[0].info["cmdline"]
    folder = Path(argv[argv.index("mlmon_tui.app.demo_write") + 1])
    return mine[0], folder, done


def _gone(proc, folder, timeout: float) -> bool:
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        if not running and not folder.exists():
            return True
        time.sleep(0.1)
    return False


def test_demo_runs_live_and_q_cleans_up(tmp_path, tmux_session):
    """`mlmon-tui demo` on a machine with no logs: runs of every format appear; quitting
    stops the writer process and removes its temporary folder."""
    writer, folder, done = _start_demo(tmp_path, tmux_session)
    assert folder.is_dir() and any(folder.rglob("events.out.tfevents.*"))
    assert any(folder.rglob("metrics.csv")) and any(folder.rglob("trainer_state.json"))
    deadline = time.monotonic() + 10  # the socket run starts pushing when the demo goes live
    while not any(folder.rglob("mlmon-socket.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(folder.rglob("mlmon-socket.jsonl"))  # the run pushed over the socket
    subprocess.run(["tmux", "send-keys", "-t", tmux_session, "q"], check=True)
    deadline = time.monotonic() + 8
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done.exists() and done.read_text().strip() == "0"
    assert _gone(writer, folder, 5)


def test_demo_cleans_up_when_the_terminal_goes_away(tmp_path, tmux_session):
    """A dropped SSH session: the terminal hangs up; nothing may be left running or on disk."""
    writer, folder, _ = _start_demo(tmp_path, tmux_session)
    subprocess.run(["tmux", "kill-session", "-t", tmux_session], check=True)
    assert _gone(writer, folder, 8)


def test_monitor_exits_when_the_terminal_goes_away(tmp_path, tmux_session):
    import psutil

    logdir = tmp_path / "logs"
    writer = tensorboardX.SummaryWriter(str(logdir / "exp"))
    writer.add_scalar("train/loss", 1.0, 0)
    writer.close()
    cmd = " ".join(_entry_point()) + f" {logdir} --no-gpu"
    new_session(tmux_session, 100, 30, cmd, dict(os.environ, TERM="xterm-256color"))
    ok, screen, _ = _wait_for(tmux_session, lambda s: "exp" in s and "train/" in s, 20)
    assert ok, screen
    mine = [p for p in psutil.process_iter(["cmdline", "name"])
            if str(logdir) in " ".join(p.info["cmdline"] or []) and "tmux" not in p.info["name"]]
    assert len(mine) == 1
    subprocess.run(["tmux", "kill-session", "-t", tmux_session], check=True)
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and mine[0].is_running() \
            and mine[0].status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.1)
    assert not mine[0].is_running() or mine[0].status() == psutil.STATUS_ZOMBIE


def test_escape_alone_is_a_key_and_q_quits_at_once(tmp_path, tmux_session):
    """The input thread sleeps until a key comes: a lone Escape must still arrive (its
    timeout is waited for), and quitting must not wait for a poll."""
    logdir = tmp_path / "logs"
    writer = tensorboardX.SummaryWriter(str(logdir / "exp"))
    for s in range(20):
        writer.add_scalar("train/loss", 1.0 / (s + 1), s)
    writer.close()
    done = tmp_path / "exit-code"
    cmd = " ".join(_entry_point()) + f" {logdir} --no-gpu --no-listen; echo $? > {done}"
    new_session(tmux_session, 120, 36, cmd, dict(os.environ, TERM="xterm-256color"))
    ok, screen, _ = _wait_for(tmux_session, lambda s: "exp" in s and "train/loss" in s, 20)
    assert ok, screen
    time.sleep(2.0)  # idle: the input thread is asleep
    subprocess.run(["tmux", "send-keys", "-t", tmux_session, "tab"], check=True)  # to the charts
    subprocess.run(["tmux", "send-keys", "-t", tmux_session, "Enter"], check=True)
    ok, screen, _ = _wait_for(tmux_session, lambda s: "step" not in s.splitlines()[0], 10)
    assert ok, f"enter did not open the chart full screen:\n{screen}"
    time.sleep(2.0)
    subprocess.run(["tmux", "send-keys", "-t", tmux_session, "Escape"], check=True)
    ok, screen, waited = _wait_for(tmux_session, lambda s: "step" in s.splitlines()[0], 5)
    assert ok, f"escape did not come back:\n{screen}"
    time.sleep(2.0)
    subprocess.run(["tmux", "send-keys", "-t", tmux_session, "q"], check=True)
    start = time.monotonic()
    while not done.exists() and time.monotonic() - start < 5:
        time.sleep(0.02)
    assert done.exists() and done.read_text().strip() == "0"
