"""The health panel in a real Textual app: newest first, severity filter, badges."""

from textual.app import App
from textual.widgets import Static

from mlmon_tui.analysis.findings import Finding
from mlmon_tui.panels.health import HealthPanel, badge

FINDINGS = [
    Finding("plateau", "info", "a", "train/loss", 100, 1000.0, 0.3, "train/loss flat: a plateau"),
    Finding("nan", "error", "b", "train/loss", 300, 3000.0, float("nan"), "train/loss became NaN"),
    Finding("spike", "warning", "a", "train/loss", 200, 2000.0, 9.0, "train/loss spiked"),
]


class _App(App):
    def compose(self):
        yield HealthPanel(id="health")


def _body(app) -> str:
    return str(app.query_one("#health-body", Static).content)


async def test_newest_first_and_filter_cycle():
    app = _App()
    async with app.run_test() as pilot:
        panel = app.query_one(HealthPanel)
        panel.set_findings(FINDINGS)
        await pilot.pause()
        lines = _body(app).splitlines()
        assert [ln.split()[1] for ln in lines] == ["error", "warning", "info"]  # by time
        panel.focus()
        await pilot.press("f")
        assert panel.minimum == "warning"
        assert "plateau" not in _body(app) and "spiked" in _body(app)
        await pilot.press("f")
        assert "spiked" not in _body(app) and "NaN" in _body(app)
        assert "errors only" in str(app.query_one("#health-title", Static).content)
        await pilot.press("f")
        assert panel.minimum == "all" and len(_body(app).splitlines()) == 3


async def test_empty_and_hidden_messages():
    app = _App()
    async with app.run_test() as pilot:
        panel = app.query_one(HealthPanel)
        assert "no findings" in _body(app)
        panel.set_findings(FINDINGS[:1])
        panel.minimum = "error"
        await pilot.pause()
        assert "1 hidden" in _body(app)


def test_badge():
    assert badge([]) == ("✓", "green")
    assert badge(FINDINGS[:1]) == ("ℹ 1", "cyan")
    assert badge(FINDINGS) == ("✖ 1", "bold red")
    assert badge([FINDINGS[0], FINDINGS[2], FINDINGS[2]]) == ("▲ 2", "yellow")


async def test_severity_and_run_are_apart_and_grouped_tags_counted():
    """`warning` and the run name never run together, and a finding seen on several tags
    says how many more."""
    grouped = Finding("exploding_gradients", "warning", "tb/resnet-overfit", "grad_norm", 50,
                      500.0, 9.0, "grad_norm jumped", tags=("grad_norm", "layer1", "layer2"))
    app = _App()
    async with app.run_test() as pilot:
        app.query_one(HealthPanel).set_findings([grouped])
        await pilot.pause()
        body = _body(app)
        assert "warningtb" not in body and "warning · tb/resnet-overfit" in body
        assert "grad_norm (+2 tags) step 50" in body
