"""What a tick sends to a real terminal: a runs list on a pseudo-terminal, each run's step
going up by one, sends the changed digit of each line and not the lines again."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path

from ptyrun import PtyProcess

CHILD = textwrap.dedent("""
    import os, sys
    from textual.app import App
    from mlmon_tui.app import spans
    from mlmon_tui.panels.runs import RunRow, RunsPanel

    rows = [RunRow(f"run-{k:02d}", "red", True, "tfevents", 2000, 1.0, "live") for k in range(10)]

    class One(App):
        def compose(self):
            yield RunsPanel()

        def on_mount(self):
            spans.install()
            self.query_one(RunsPanel).set_rows(rows)
            self.set_timer(1.0, self.bump)

        def bump(self):
            os.write(sys.__stdout__.fileno(), b"TICK-MARK")
            self.query_one(RunsPanel).set_rows(
                [RunRow(**{**r.__dict__, "last_step": 2001}) for r in rows])
            self.set_timer(1.0, lambda: os.write(sys.__stdout__.fileno(), b"DONE-MARK"))

    One().run()
""")


def test_a_new_step_per_run_sends_only_the_changed_digits():
    src = Path(__file__).resolve().parents[1] / "src"
    env = dict(os.environ, PYTHONPATH=str(src), TERM="xterm-256color", COLORTERM="truecolor")
    p = PtyProcess([sys.executable, "-c", CHILD], env, cols=60, rows=14)
    try:
        assert p.wait_for(b"DONE-MARK", 30), p.output[-500:]
    finally:
        p.close()
    out = p.output
    assert b"run-09" in out[:out.index(b"TICK-MARK")]  # the first paint drew the names
    tick = out[out.index(b"TICK-MARK"):out.index(b"DONE-MARK")]
    assert b"run-0" not in tick  # the tick did not draw any line again
    # ... but wrote a "1" at the last digit of each run's step (rows 2..11 of the screen)
    writes = re.findall(rb"\x1b\[(\d+);(\d+)H(?:\x1b\[[0-9;]*m)*1\x1b\[0m", tick)
    assert sorted(int(y) for y, x in writes) == list(range(2, 12))
    assert len({x for y, x in writes}) == 1  # the same column: the step's last digit
    assert len(tick) < 10 * 60  # about 30 bytes a run; a repainted line is over 100
