"""Lines of the cluster view: a node's GPUs and host, and one line per run under it."""

from __future__ import annotations

from rich.text import Text

from mlmon_tui.panels.gauge_lines import fmt_bytes
from mlmon_tui.panels.health import MARK, STYLE
from mlmon_tui.panels.runs import STATE_STYLE, fmt_rate, fmt_step


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}%"


def node_text(node) -> Text:
    t = Text()
    t.append(node.instance, "bold")
    if node.cpu is not None:
        t.append("  CPU ").append(_pct(node.cpu))
    if node.mem_total:
        t.append(f"  mem {fmt_bytes(node.mem_used)}/{fmt_bytes(node.mem_total)}")
    for g in sorted(node.gpus.values(), key=lambda g: (len(g.gpu), g.gpu)):
        t.append(f"  GPU{g.gpu} ", "bold").append(_pct(g.util))
        if g.mem_total:
            t.append(f" {fmt_bytes(g.mem_used)}/{fmt_bytes(g.mem_total)}")
    if not node.gpus:
        t.append("  no GPU series", "dim")
    if not node.runs:
        t.append("  no runs", "dim")
    return t


def badge(findings: dict[str, int]) -> tuple[str, str]:
    for sev in ("error", "warning", "info"):
        if findings.get(sev):
            return f"{MARK[sev]} {findings[sev]}", STYLE[sev]
    return "✓", "green"


def run_text(run, name_width: int = 24) -> Text:
    t = Text("  ")
    t.append(f"{run.run[:name_width]:<{name_width}}")
    step = None if run.step is None else int(run.step)
    t.append(f" step {fmt_step(step):>7}")
    t.append(f" {fmt_rate(run.rate):>7}/s")
    t.append(f" {run.state or '?':<8}", STATE_STYLE.get(run.state, ""))
    text, style = badge(run.findings)
    t.append(" ").append(text, style)
    return t
