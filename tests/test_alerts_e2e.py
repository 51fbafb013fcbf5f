"""Alerts end to end: `check` through the CLI on a log directory written by tensorboardX, the
monitor in a real pseudo-terminal (and inside a real tmux) writing desktop notifications, and
the app driven with Pilot while a command and a webhook are slow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

tensorboardX = pytest.importorskip("tensorboardX")

from hookserver import HookServer  # noqa: E402
from ptyrun import PtyProcess  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")
T0 = 1_700_000_000.0
N = 200


def write_logs(root: Path) -> Path:
    """One healthy run, one whose loss turns NaN at step 150 (an error)."""
    for run, bad_at in (("healthy", None), ("broken", 150)):
        w = tensorboardX.SummaryWriter(str(root / run))
        for i in range(N):
            v = float("nan") if i == bad_at else 1.0 / (1 + i / 20)
            w.add_scalar("train/loss", v, i, walltime=T0 + i)
        w.close()
    return root


@pytest.fixture
def logs(tmp_path):
    return write_logs(tmp_path / "logs")


def mlmon(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "mlmon_tui", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


# -- check ----------------------------------------------------------------------------------

def test_check_on_finding_runs_the_command_before_exit(logs, tmp_path):
    got, env = tmp_path / "finding.json", tmp_path / "env.txt"
    out = mlmon("check", logs, "--json", "--now", T0 + N + 1,
                "--on-finding",
                f"cat > {got}; env | grep -E '^MLMON_(RUN|TAG|KIND|SEVERITY|STEP|MESSAGE)=' "
                f"| sort > {env}")
    assert out.returncode == 1, out.stderr
    printed = json.loads(out.stdout)  # stdout is still only the JSON array
    sent = json.loads(got.read_text())
    assert {k: sent[k] for k in printed[0]} == printed[0]
    assert sent["text"].startswith("mlmon-tui ERROR: nan in broken on train/loss at step 150")
    assert env.read_text().splitlines() == [
        "MLMON_KIND=nan", f"MLMON_MESSAGE={printed[0]['message']}", "MLMON_RUN=broken",
        "MLMON_SEVERITY=error", "MLMON_STEP=150", "MLMON_TAG=train/loss"]
    assert "note:" not in out.stderr.replace("NaN or Inf found in input tensor.", "")


def test_check_webhook_posts_each_finding(logs):
    with HookServer(statuses=[503]) as srv:
        out = mlmon("check", logs, "--now", T0 + N + 1, "--webhook", srv.url)
        assert out.returncode == 1, out.stderr
        (body,) = srv.bodies()[1:]  # the first POST got a 503 and was retried
        assert (body["run"], body["kind"], body["step"]) == ("broken", "nan", 150)
        assert "text" in body


def test_check_reports_a_failing_command_and_a_bad_url(logs):
    out = mlmon("check", logs, "--now", T0 + N + 1, "--on-finding", "exit 7")
    assert out.returncode == 1
    assert "on-finding `exit 7`: 0 sent, 1 failed" in out.stderr
    assert "exit status 7" in out.stderr
    bad = mlmon("check", logs, "--webhook", "hooks.example.com/x")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == (
        "mlmon-tui check: error: --webhook: not an http:// or https:// URL: "
        "'hooks.example.com/x'")
    low = mlmon("check", logs, "--notify-level", "loud")
    assert low.returncode == 2 and "invalid choice" in low.stderr


def test_monitor_and_demo_refuse_bad_alert_flags_before_starting(logs):
    bad = mlmon(logs, "--webhook", "localhost:8080", timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("mlmon-tui: error: --webhook: not an http:// or https:// URL: "
                                  "'localhost:8080'")
    empty = mlmon("demo", "--on-finding", " ", timeout=60)
    assert empty.returncode == 2 and "--on-finding: empty command" in empty.stderr
    helptext = mlmon("--help", timeout=60).stdout
    for flag in ("--notify {terminal,none}", "--notify-level", "--on-finding CMD",
                 "--webhook URL"):
        assert flag in helptext


def test_check_notify_level_error_skips_warnings(logs, tmp_path):
    # judged 80 min after the last point: both runs look stalled (warnings), one has a NaN
    calls = tmp_path / "calls"
    cmd = f"echo $MLMON_KIND $MLMON_SEVERITY >> {calls}"
    mlmon("check", logs, "--now", T0 + 5000, "--on-finding", cmd)
    every = calls.read_text().splitlines()
    assert sorted(every) == ["nan error", "stall warning", "stall warning"]
    calls.unlink()
    mlmon("check", logs, "--now", T0 + 5000, "--on-finding", cmd, "--notify-level", "error")
    assert calls.read_text().splitlines() == ["nan error"]


# -- the monitor in a real terminal -------------------------------------------------------------

def _entry() -> list[str]:
    return [sys.executable, "-m", "mlmon_tui"]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "STY", "TERM_PROGRAM")}
    env.update(PYTHONPATH=SRC, TERM="xterm-256color", **extra)
    return env


def test_monitor_writes_bell_and_desktop_notifications_to_its_terminal(logs, tmp_path):
    calls = tmp_path / "calls"
    p = PtyProcess(_entry() + [str(logs), "--no-gpu", "--no-listen",
                               "--on-finding", f"echo $MLMON_STEP >> {calls}"], _env())
    try:
        assert p.wait_for(b"\x1b]777;notify;", 60), p.output[-2000:]
        out = p.output
        start = out.index(b"\x1b]9;")
        assert out[start - 1:start] == b"\x07"  # the bell first
        osc9 = out[start:out.index(b"\x07", start) + 1]
        assert osc9.startswith(b"\x1b]9;mlmon-tui: error in broken: nan on train/loss at step 150")
        assert out.count(b"\x1b]9;") == 1  # once, though the screen redraws
        assert b"\x1bPtmux;" not in out
        # the app keeps drawing: the runs are on screen
        assert p.wait_for(b"healthy", 20)
        deadline = time.monotonic() + 20
        while not calls.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls.read_text().split() == ["150"]
    finally:
        p.close()
    assert p.proc.returncode is not None


def test_notify_none_writes_no_osc(logs):
    p = PtyProcess(_entry() + [str(logs), "--no-gpu", "--no-listen", "--notify", "none",
                               "--no-bell"], _env())
    try:
        assert p.wait_for(b"healthy", 60)
        time.sleep(1.0)  # time for the analysis to have run and a notification to be written
        assert b"\x1b]9;" not in p.output and b"\x1b]777;" not in p.output
    finally:
        p.close()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_notification_passes_through_a_real_tmux(logs, tmp_path):
    """mlmon-tui inside tmux wraps the OSC for passthrough; the tmux client hands it, unwrapped,
    to the terminal outside (here a pseudo-terminal we read)."""
    sock = f"mlmon-alerts-{uuid.uuid4().hex[:8]}"
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g allow-passthrough on\nset -g status off\n")
    inner = " ".join(_entry()) + f" {logs} --no-gpu --no-listen"
    argv = ["tmux", "-L", sock, "-f", str(conf), "new-session", "-x", "120", "-y", "36", inner]
    p = PtyProcess(argv, _env())
    try:
        assert p.wait_for(b"\x1b]777;notify;mlmon-tui: error in broken;", 60), p.output[-3000:]
        out = p.output
        assert b"\x1b]9;mlmon-tui: error in broken: nan on train/loss" in out
        assert b"\x1bPtmux;" not in out  # tmux unwrapped it
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
        p.close()


# -- the app, driven with Pilot -----------------------------------------------------------------

async def test_app_stays_responsive_while_webhook_hangs_and_shows_counters(logs, tmp_path):
    from mlmon_tui.app.alerts import AlertOptions
    from mlmon_tui.app.app import MonitorApp
    from mlmon_tui.app.screens import DiagnosticsScreen, HelpScreen

    calls = tmp_path / "calls"
    with HookServer(hang=True) as srv:
        alerts = AlertOptions(on_finding=f"echo $MLMON_KIND >> {calls}; exit 3",
                              webhook=srv.url, webhook_timeout=30)
        app = MonitorApp([str(logs)], watch=False, clock=lambda: T0 + N + 1, alerts=alerts)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()
            assert srv.arrived.wait(20)  # the server holds the POST...
            await pilot.press("question_mark")  # ...and the app still answers keys
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert not srv.release.is_set()
            webhook, command = (sorted(app.services.alerter.channels, key=lambda c: c.name)[::-1])
            assert command.drain(20)
            await pilot.press("d")
            await pilot.pause()
            assert isinstance(app.screen, DiagnosticsScreen)
            text = app.diagnostics_text().plain
            assert "Alerts" in text and "1 findings announced this session" in text
            assert "on-finding `echo $MLMON_KIND" in text and "0 sent, 1 failed" in text
            assert "exit status 3" in text
            assert f"webhook http://127.0.0.1:{srv.httpd.server_address[1]}/…: 0 sent" in text
            srv.release.set()
            assert webhook.drain(20) and webhook.stats.sent == 1
            assert "1 sent" in app.diagnostics_text().plain
        assert calls.read_text().split() == ["nan"]
