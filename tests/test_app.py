"""The app driven with Pilot: keys, mouse, filters, full screen, help."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorboardX")

from appdata import T0, write_tb_runs  # noqa: E402

from mlmon_tui.app.app import MonitorApp  # noqa: E402
from mlmon_tui.app.screens import ChartScreen, HelpScreen, Prompt  # noqa: E402
from mlmon_tui.panels.chart import Chart  # noqa: E402
from mlmon_tui.panels.runs import RunsPanel  # noqa: E402


@pytest.fixture
def logdir(tmp_path):
    return write_tb_runs(tmp_path / "logs")


def make_app(logdir, **kw) -> MonitorApp:
    return MonitorApp([str(logdir)], watch=False, clock=lambda: T0 + 200, **kw)


async def settle(pilot) -> None:
    await pilot.pause()
    pilot.app._update()
    await pilot.pause()
    await pilot.pause()


async def test_runs_and_grouped_charts(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.store.runs() == ["alpha", "beta", "gamma"]
        assert set(app._charts) == {"train/loss", "train/lr", "val/loss"}
        titles = [str(w.render()) for w in app.query(".group-title")]
        assert any("train/" in t for t in titles) and any("val/" in t for t in titles)
        chart = app._charts["train/loss"]
        assert [r for r, _ in chart.runs] == ["alpha", "beta", "gamma"]
        assert chart.frame is not None and (chart.frame.codes != 0).any()


async def test_space_hides_and_shows_the_run_under_the_cursor(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.query_one(RunsPanel)
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("space")
        await settle(pilot)
        assert "beta" in app.hidden
        assert "beta" not in [r for r, _ in app._charts["train/loss"].runs]
        await pilot.press("space")
        await settle(pilot)
        assert "beta" not in app.hidden


async def test_tag_filter_prompt(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.screen, Prompt)
        await pilot.press(*"^val", "enter")
        await settle(pilot)
        assert set(app._charts) == {"val/loss"}
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")  # clear the filter
        await settle(pilot)
        assert len(app._charts) == 3


async def test_bad_regex_is_refused_and_keeps_the_filter(logdir):
    app = make_app(logdir, tags_re="loss")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"(unclosed", "enter")
        await settle(pilot)
        assert app.tags_re == "loss"
        assert set(app._charts) == {"train/loss", "val/loss"}


async def test_run_filter(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("r", *"^(alpha|gamma)$", "enter")
        await settle(pilot)
        assert [r for r, _ in app._charts["train/loss"].runs] == ["alpha", "gamma"]
        assert app.query_one(RunsPanel).names == ["alpha", "gamma"]


async def test_smoothing_log_and_axis_keys_reach_the_charts(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        chart = app._charts["train/loss"]
        assert chart.options.smoothing == pytest.approx(0.6)
        await pilot.press("s")
        assert chart.options.smoothing == pytest.approx(0.8)
        await pilot.press("l")
        assert chart.options.log_y
        await pilot.press("x")
        assert chart.options.x_mode == "relative"
        await pilot.press("x")
        assert chart.options.x_mode == "wall"
        await pilot.press("x", "l")
        assert chart.options.x_mode == "step" and not chart.options.log_y


async def test_enter_opens_the_focused_chart_full_screen_and_escape_returns(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app._charts["val/loss"].focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ChartScreen)
        big = app.screen.query_one(Chart)
        assert big.tag == "val/loss"
        assert big.size.width >= 99 and big.size.height >= 25
        assert big.frame is not None and (big.frame.codes != 0).any()
        await pilot.press("escape")
        assert not isinstance(app.screen, ChartScreen)


async def test_mouse_click_on_a_chart_focuses_it(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        chart = app._charts["train/lr"]
        await pilot.click(chart)
        assert app.focused is chart


async def test_help_lists_every_key_and_closes(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        for key in ("q", "/", "space", "enter", "escape", "?"):
            assert key in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_q_quits(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)
    assert not app.is_running


async def test_tiny_terminal_does_not_crash(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(30, 8)) as pilot:
        await settle(pilot)
        assert app.is_running


async def test_empty_directory_says_it_is_waiting(tmp_path):
    app = MonitorApp([str(tmp_path)], watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = str(app.query_one("#empty").render())
        assert "Waiting for data" in text and str(tmp_path) in text


async def test_runs_list_keys_and_click(logdir):
    app = make_app(logdir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        panel = app.query_one(RunsPanel)
        panel.focus()
        await pilot.press("down", "down")
        assert panel.current_run == "gamma"
        await pilot.press("enter")
        await settle(pilot)
        assert app.hidden == {"gamma"}
        await pilot.press("home")
        assert panel.current_run == "alpha"
        await pilot.click(RunsPanel, offset=(0, 2))  # the dot of the second run
        await settle(pilot)
        assert panel.current_run == "beta" and app.hidden == {"gamma", "beta"}


async def test_a_new_step_repaints_only_that_run():
    """The runs list alone (no app timers): one changed run, one line rendered again."""
    from textual.app import App

    from mlmon_tui.panels.runs import RunRow

    rows = [RunRow(f"run-{k}", "red", True, "tfevents", 100 + k, 1.0, "live") for k in range(5)]

    class One(App):
        def compose(self):
            yield RunsPanel()

    app = One()
    async with app.run_test(size=(60, 12)) as pilot:
        panel = app.query_one(RunsPanel)
        panel.set_rows(rows)
        await pilot.pause()
        before = panel.lines_painted
        rows[2] = RunRow(**{**rows[2].__dict__, "last_step": 12345})
        panel.set_rows(rows)
        await pilot.pause()
        assert panel.lines_painted - before == 1
        assert "12345" in panel.render_line(3).text
        panel.set_rows(rows)  # nothing changed: nothing rendered
        await pilot.pause()
        assert panel.lines_painted - before == 1


async def test_a_tick_repaints_only_the_changed_cells_of_each_run():
    """Ten live runs each get one new step: only the digits that changed are marked for
    repaint and reach the terminal, not the rest of each line."""
    from textual.app import App

    from mlmon_tui.panels.runs import RunRow, RunsPanel

    rows = [RunRow(f"run-{k:02d}", "red", True, "tfevents", 2000, 1.0, "live") for k in range(10)]

    class One(App):
        def compose(self):
            yield RunsPanel()

    app = One()
    async with app.run_test(size=(60, 14)) as pilot:
        panel = app.query_one(RunsPanel)
        panel.set_rows(rows)
        await pilot.pause()
        before = panel.cells_refreshed
        rows = [RunRow(**{**r.__dict__, "last_step": 2001}) for r in rows]
        panel.set_rows(rows)
        await pilot.pause()
        assert panel.cells_refreshed - before == 10  # one digit per run: 2000 -> 2001
        for k in range(10):
            assert "2001" in panel.render_line(k + 1).text
        # Textual resends whole segments that touch a dirty span: the changed digit is a
        # segment of its own, so only it goes out
        strips = [panel.render_line(k + 1) for k in range(10)]
        x = panel.render_line(1).text.index("2001") + 3
        for strip in strips:
            cells = [s.text for s in strip.divide([x, x + 1, strip.cell_length])[1]]
            assert cells == ["1"]
        rows = [RunRow(**{**r.__dict__, "last_step": 2100}) for r in rows]
        before = panel.cells_refreshed
        panel.set_rows(rows)
        await pilot.pause()
        assert panel.cells_refreshed - before == 30  # 2001 -> 2100: three cells per run


async def test_diagnostics_lists_socket_counters_and_input_problems(tmp_path):
    """A real socket client sends a malformed line; a corrupt event file sits beside a run."""
    import socket
    import time

    from mlmon_tui.app.screens import DiagnosticsScreen

    logdir = write_tb_runs(tmp_path / "logs", steps=20)
    (logdir / "alpha" / "events.out.tfevents.0.broken").write_bytes(b"version https://git-lfs")
    app = MonitorApp([str(logdir)], gpu=False, clock=lambda: T0 + 200)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        server = app.services.server
        assert server is not None, app.services.server_status
        path = server.address.split(":", 1)[1]
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            s.sendall(b'{"run": "pushed", "step": 1, "metrics": {"loss": 1.0}}\n{not json\n')
        deadline = time.monotonic() + 5
        while server.stats["malformed_json"] < 1 and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await pilot.press("d")
        assert isinstance(app.screen, DiagnosticsScreen)
        text = app.diagnostics_text().plain
        assert "malformed json 1" in text and "messages 1" in text
        assert "git-lfs" in text.lower() or "lfs pointer" in text.lower()
        await pilot.press("escape")
        assert not isinstance(app.screen, DiagnosticsScreen)


async def test_charts_made_after_the_findings_still_mark_them(tmp_path):
    """Findings come before the charts exist (one read, then the grid is built): each new
    chart, and a full-screen one, must carry the markers of its tag's findings."""
    from mlmon_tui.app import demo_sim, demo_write

    demo_write.write(tmp_path, rate=4.0, until=700, t0=T0)
    app = MonitorApp([str(tmp_path)], watch=False, clock=lambda: T0 + 180)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        found = {(f.run, f.step) for f in app.services.findings if "train/grad_norm" in f.tags}
        # the demo's run starts growing its gradients after `explode_at` (x e every 8 steps):
        # the finding sits where the growth starts, not some step the detector once gave
        explode_at = next(p.explode_at for p in demo_sim.PROFILES if p.name == "tb/lr-too-high")
        onsets = [s for r, s in found if r == "tb/lr-too-high"]
        assert onsets and all(explode_at <= s <= explode_at + 24 for s in onsets), onsets
        assert {(r, s) for r, s, _ in app._charts["train/grad_norm"].markers} == found
        app._charts["train/grad_norm"].focus()
        await pilot.press("enter")
        await settle(pilot)
        assert {(r, s) for r, s, _ in app.screen.query_one(Chart).markers} == found
