"""A widget's Rich style kept between frames.

Textual's `rich_style` walks every ancestor and adds their styles up, each time it is read:
a legend value deep in the chart grid, or a runs list line drawn each second, paid that walk
once or twice per line. The style changes only when CSS is applied again (a theme, a class,
a pseudo-class such as focus or hover), and Textual then calls `notify_style_update` on the
node and on every node below it: that is when the kept one is dropped.
"""

from __future__ import annotations

from rich.style import Style


class KeptStyle:
    """Mixin for a Textual widget: `base_style` is `rich_style`, read once per CSS update;
    `style_changed()` is called then (drop what was drawn in the old style)."""

    _kept_style: Style | None = None

    @property
    def base_style(self) -> Style:
        style = self._kept_style
        if style is None:
            style = self._kept_style = self.rich_style
        return style

    def notify_style_update(self) -> None:
        self._kept_style = None
        self.style_changed()
        super().notify_style_update()

    def style_changed(self) -> None:
        """Called when the CSS was applied again; the next `base_style` is read afresh."""
