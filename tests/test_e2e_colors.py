"""`--color` end to end: the monitor in a real terminal (tmux) for each colour mode, the
screen read back with its escape sequences (`capture-pane -e`)."""

from __future__ import annotations

import os
import re
import shlex
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

SGR = re.compile(r"\x1b\[([0-9;:]*)m")
RUNS = ("run-a", "run-b", "run-c")


def _entry_point() -> list[str]:
    exe = Path(sys.executable).with_name("mlmon-tui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mlmon_tui"]


def foreground_colours(screen: str) -> list[str]:
    """Every foreground colour set on the screen: '38;2;r;g;b', '38;5;n' or '3x' / '9x'."""
    found = []
    for params in SGR.findall(screen):
        p = params.replace(":", ";").split(";")
        i = 0
        while i < len(p):
            if p[i] in ("38", "48") and i + 1 < len(p):
                n = 5 if p[i + 1] == "2" else 3
                if p[i] == "38":
                    found.append(";".join(p[i : i + n]))
                i += n
                continue
            if re.fullmatch(r"3[0-7]|9[0-7]", p[i]):
                found.append(p[i])
            i += 1
    return found


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("colours")
    for k, run in enumerate(RUNS):
        w = tensorboardX.SummaryWriter(str(root / run))
        for s in range(200):
            w.add_scalar("train/loss", 1.0 + 0.3 * k + 0.2 * ((s // 7) % 2), s)
        w.close()
    return root


def _screen(logdir, mode: str, env: dict) -> tuple[str, str]:
    session = f"mlmon-{uuid.uuid4().hex[:8]}"
    cmd = " ".join(_entry_point()) + f" {logdir} --no-gpu --no-listen"
    if mode:
        cmd += f" --color {mode}"
    e = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", **env)
    if "NO_COLOR" not in env:
        e.pop("NO_COLOR", None)
    # a tmux server that is already running gives a new session its own environment, not
    # the client's: set (and unset) the variables on the command itself
    assign = {"TERM": "xterm-256color", "COLORTERM": "truecolor", **env}
    prefix = ["env"] + ([] if "NO_COLOR" in env else ["-u", "NO_COLOR"])
    prefix += [f"{k}={v}" for k, v in assign.items()]
    cmd = " ".join(shlex.quote(x) for x in prefix) + " " + cmd
    new_session(session, 120, 36, cmd, e)
    try:
        deadline = time.monotonic() + 25
        plain = ""
        while time.monotonic() < deadline:
            plain = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                   capture_output=True, text=True).stdout
            if all(r in plain for r in RUNS) and "train/loss" in plain:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # a frame or two more: the legends settle
        styled = subprocess.run(["tmux", "capture-pane", "-p", "-e", "-t", session],
                                capture_output=True, text=True).stdout
        plain = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                               capture_output=True, text=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert all(r in plain for r in RUNS), plain
    return plain, styled


def _legend_samples(plain: str) -> dict[str, str]:
    """The legend's line sample in front of each run's name."""
    out = {}
    for run in RUNS:
        m = re.search(r"(\S{2,3}) " + re.escape(run) + r"\b", plain)
        if m:
            out[run] = m.group(1)
    return out


def _legend_colours(styled: str) -> dict[str, str]:
    """The colour code set just before each run's legend sample."""
    out = {}
    for run in RUNS:
        m = re.search(r"\x1b\[([0-9;]+)m\S{3}(?:\x1b\[[0-9;]*m)* " + re.escape(run) + r"\b", styled)
        if m:
            out[run] = m.group(1)
    return out


def _grey(c: str) -> bool:
    p = c.split(";")
    return p[:2] == ["38", "2"] and p[2] == p[3] == p[4]


@pytest.mark.parametrize("mode,env", [
    ("truecolor", {}), ("256", {}), ("16", {}), ("none", {}), ("", {"NO_COLOR": "1"}),
])
def test_each_colour_mode_on_a_real_terminal(logdir, mode, env):
    plain, styled = _screen(logdir, mode, env)
    colours = foreground_colours(styled)
    truecolour = [c for c in colours if c.startswith("38;2;")]
    xterm256 = [c for c in colours if c.startswith("38;5;")]
    ansi16 = [c for c in colours if not c.startswith("38;")]
    samples = _legend_samples(plain)
    if mode == "truecolor":
        assert "38;2;95;175;255" in truecolour  # the first run's blue, exactly
    elif mode == "256":
        assert not truecolour and xterm256 and "38;5;75" in xterm256
    elif mode == "16":
        assert not truecolour and not xterm256
        legend = _legend_colours(styled)
        assert len(legend) == len(RUNS) and len(set(legend.values())) == len(RUNS), legend
        assert all(re.fullmatch(r"3[0-7]|9[0-7]", c) for c in legend.values()), legend
        assert not {"31", "91", "33", "93"} & set(legend.values())  # red, yellow: findings
        assert len(set(samples.values())) == len(RUNS), samples  # and its own dash pattern
    else:  # --color none, or NO_COLOR with auto: no colour at all, only greys
        assert all(_grey(c) for c in truecolour) and not xterm256 and not ansi16, set(colours)
        assert len(set(samples.values())) == len(RUNS), samples  # runs told apart by pattern
