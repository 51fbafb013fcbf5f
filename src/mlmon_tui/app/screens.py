"""Secondary screens: a prompt, the help, one chart full screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, Static


class Prompt(ModalScreen[str | None]):
    """Ask for one line of text; escape cancels."""

    DEFAULT_CSS = """
    Prompt { align: center middle; }
    Prompt > Vertical { width: 60; max-width: 95%; height: auto; border: round $accent;
                        background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self._title, self._value, self._placeholder = title, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield Input(value=self._value, placeholder=self._placeholder)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 64; max-width: 98%; height: auto; max-height: 95%;
                            border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        super().__init__()
        self._lines = lines

    def compose(self) -> ComposeResult:
        width = max(len(k) for k, _ in self._lines) + 2
        text = "\n".join(f"[b]{k:<{width}}[/b]{d}" for k, d in self._lines)
        with Vertical():
            yield Label("[b]mlmon-tui keys[/b]")
            yield Static(text)
            yield Label("[dim]escape closes this help; the mouse works too[/dim]")


class ChartScreen(Screen[None]):
    """One chart, full screen."""

    BINDINGS = [Binding("escape,enter", "app.pop_screen", "Back")]

    def __init__(self, chart) -> None:
        super().__init__()
        self._chart = chart

    def compose(self) -> ComposeResult:
        yield self._chart
        yield Footer()


class DiagnosticsScreen(ModalScreen[None]):
    """What the monitor itself sees: file watching, the metrics socket's counters (malformed
    messages, oversized lines, drops reported by clients...), every input problem."""

    DEFAULT_CSS = """
    DiagnosticsScreen { align: center middle; }
    DiagnosticsScreen > VerticalScroll { width: 100; max-width: 98%; height: 80%;
                                         border: round $accent; background: $surface;
                                         padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,d", "dismiss", "Close")]

    def __init__(self, text) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll

        with VerticalScroll():
            yield Static(self._text, markup=False)
            yield Label("[dim]escape closes this view[/dim]")
