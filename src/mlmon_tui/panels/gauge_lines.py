"""The gauges as lines of rich `Text`, from one `Snapshot`: pure functions, no widget.

Kept apart from the widget so that scripts (and a machine without Textual) can print exactly
what the panel shows.
"""

from __future__ import annotations

from rich.text import Text

from ..analysis.names import distinct_labels, fit_labels
from ..records.system import GpuStats
from ..records.system import ProcInfo
from ..records.system import Snapshot

BLOCKS = " ▁▂▃▄▅▆▇█"
ASCII_LEVELS = " .:-=+*#@"
GREEN, YELLOW, RED, DIM = "#5fd75f", "#d7af00", "#ff5f5f", "#808080"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit in ("B", "K") or abs(n) >= 100 else f"{n:.1f}{unit}"
        n /= 1024
    return "n/a"  # unreachable


def fmt_rate(bps: float | None) -> str:
    return "n/a" if bps is None else fmt_bytes(bps) + "/s"


def fmt_pct(p: float | None) -> str:
    return " n/a" if p is None else f"{p:3.0f}%"


def level_style(p: float | None) -> str:
    if p is None:
        return DIM
    return GREEN if p < 60 else YELLOW if p < 85 else RED


def bar(frac: float | None, width: int, ascii: bool = False) -> str:
    """A horizontal bar in eighths of a cell (or '#' in ASCII)."""
    if width <= 0:
        return ""
    if frac is None:
        return "?" * width
    frac = min(max(frac, 0.0), 1.0)
    if ascii:
        full = round(frac * width)
        return "#" * full + "." * (width - full)
    eighths = round(frac * width * 8)
    full, part = divmod(eighths, 8)
    s = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return s + " " * (width - len(s))


def levels(values, width: int, scale: float = 100.0, ascii: bool = False) -> str:
    """One cell per value (the max of each bucket when there are more values than cells,
    so a spike always shows); None is a blank."""
    chars = ASCII_LEVELS if ascii else BLOCKS
    vals = list(values)
    if width <= 0 or not vals:
        return ""
    if len(vals) > width:
        out = []
        for k in range(width):
            chunk = [v for v in vals[k * len(vals) // width : (k + 1) * len(vals) // width] if v is not None]
            out.append(max(chunk) if chunk else None)
        vals = out
    top = len(chars) - 1
    return "".join(
        " " if v is None else chars[max(1, min(top, round(v / scale * top)))] for v in vals
    )


HISTORY_CHARS = 30  # 60 samples, two per character


def history(values, last_index: int, width: int, per_char: int = 2, ascii: bool = False) -> str:
    """The last samples as `width` cells, `per_char` samples per cell (their max, so a spike
    shows). Buckets are aligned to the samples' absolute index, so the picture moves one cell
    every `per_char` samples instead of redrawing at every sample; left-padded to `width`."""
    vals = list(values)
    if width <= 0:
        return ""
    buckets: dict[int, float | None] = {}
    first = last_index - len(vals) + 1
    for j, v in enumerate(vals):
        b = (first + j) // per_char
        old = buckets.get(b)
        buckets[b] = v if old is None else old if v is None else max(old, v)
    last_b = last_index // per_char
    row = [buckets.get(b) for b in range(last_b - width + 1, last_b + 1)]
    return levels(row, width, ascii=ascii)


class _Line:
    """A Text being built, with a width budget."""

    def __init__(self, width: int) -> None:
        self.text = Text(no_wrap=True, overflow="ellipsis")
        self.width = width

    @property
    def room(self) -> int:
        return self.width - self.text.cell_len

    def add(self, s: str, style: str = "") -> "_Line":
        self.text.append(s, style)
        return self

    def fits(self, s: str, style: str = "") -> bool:
        """Append s only when it fits whole; say whether it did."""
        if len(s) <= self.room:
            self.text.append(s, style)
            return True
        return False


def host_lines(snap: Snapshot, width: int, ascii: bool) -> list[Text]:
    h = snap.host
    if h is None:
        return [Text("CPU n/a" + (f"  ({snap.error})" if snap.error else ""), DIM)]
    cpu = _Line(width)
    cpu.add("CPU ", "bold")
    cpu.add(f"{fmt_pct(h.cpu_percent)} {bar(h.cpu_percent / 100, 10, ascii)}", level_style(h.cpu_percent))
    tail = f"  load {h.load[0]:.2f} {h.load[1]:.2f} {h.load[2]:.2f}" if h.load else ""
    hist_w = min(HISTORY_CHARS, max(0, cpu.room - len(tail) - 1))
    if hist_w >= 8:
        cpu.add(" ").add(history(snap.history.cpu, snap.seq, hist_w, ascii=ascii), GREEN)
    cpu.fits(tail, DIM)
    cores = _Line(width)
    cores.add(f"{h.cpu_count:>3} cores ", DIM)
    cores.add(levels(h.per_cpu, max(1, min(len(h.per_cpu), cores.room)), ascii=ascii), GREEN)
    mem = _Line(width)
    mem.add("MEM ", "bold")
    mem.add(f"{fmt_pct(h.mem_percent)} {bar(h.mem_percent / 100, 10, ascii)}", level_style(h.mem_percent))
    mem.fits(f" {fmt_bytes(h.mem_used):>6}/{fmt_bytes(h.mem_total)}")
    mem.fits(f"  disk r {fmt_rate(h.disk_read_bps):>8} w {fmt_rate(h.disk_write_bps):>8}", DIM)
    mem.fits(f"  net ↓{fmt_rate(h.net_recv_bps):>8} ↑{fmt_rate(h.net_sent_bps):>8}", DIM)
    if h.swap_total:
        mem.fits(f"  swap {fmt_bytes(h.swap_used)}/{fmt_bytes(h.swap_total)}", level_style(h.swap_percent))
    return [cpu.text, cores.text, mem.text]


def short_name(name: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'H100 80GB HBM3': the vendor says nothing here."""
    for prefix in ("NVIDIA ", "Tesla "):
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
    return name


def gpu_line(g: GpuStats, hist: tuple, seq: int, width: int, ascii: bool, name_w: int) -> list[Text]:
    line = _Line(width)
    line.add(f"GPU{g.index:<2}", "bold").add(f"{short_name(g.name)[:name_w]:<{name_w}} ", DIM)
    if g.lost:
        return [line.add("lost: fell off the bus, no longer read", RED).text]
    if g.util is None:
        line.add(" n/a (MIG) " if g.util_note == "MIG" else " n/a       ", DIM)
    else:
        line.add(f"{fmt_pct(g.util)} {bar(g.util / 100, 6, ascii)}", level_style(g.util))
    # most changeable first: Textual resends a changed row up to its last changed cell
    pw = "n/a" if g.power_w is None else f"{g.power_w:.0f}"
    lim = "n/a" if g.power_limit_w is None else f"{g.power_limit_w:.0f}"
    power = f" {pw:>4}/{lim}W"
    temp = "  n/a°C" if g.temperature is None else f" {g.temperature:3.0f}°C"
    mf = g.mem_fraction
    mem_pct = None if mf is None else mf * 100
    mem = f" {fmt_bytes(g.mem_used)}/{fmt_bytes(g.mem_total)}"
    hist_w = min(HISTORY_CHARS, line.room - len(power) - len(temp) - len("  mem ") - 4 - len(mem) - 1)
    line.fits(power)
    if hist and hist_w >= 8:
        line.add(" ").add(history(hist, seq, hist_w, ascii=ascii), GREEN)
    line.fits(temp, RED if (g.temperature or 0) >= 85 else "")
    if line.fits("  mem "):
        line.fits(fmt_pct(mem_pct), level_style(mem_pct))
        line.fits(mem)
    out = [line.text]
    if g.mig is not None:
        mig = _Line(width).add("     MIG ", DIM)
        if not g.mig:
            mig.add("no instances readable", DIM)
        for m in g.mig:
            if not mig.fits(f"{m.index}:{fmt_bytes(m.mem_used)}/{fmt_bytes(m.mem_total)} "):
                break
        mig.fits("(util n/a per instance)", DIM)
        out.append(mig.text)
    return out


def gpu_lines(snap: Snapshot, width: int, ascii: bool) -> list[Text]:
    if not snap.gpus:
        return [Text.assemble(("GPU ", "bold"), ("n/a: " + (snap.gpu_status or "no data"), DIM))]
    name_w = 0 if width < 70 else min(14, max(len(short_name(g.name)) for g in snap.gpus))
    out: list[Text] = []
    for g in snap.gpus:
        hist = snap.history.gpu_util[g.index] if g.index < len(snap.history.gpu_util) else ()
        out.extend(gpu_line(g, hist, snap.seq, width, ascii, name_w))
    if snap.untracked_gpu:
        other = _Line(width).add("GPU procs not in a run: ", DIM)
        for idx, p in snap.untracked_gpu:
            who = "pid n/a" if p.pid is None else f"pid {p.pid}"
            used = "mem n/a" if p.used is None else fmt_bytes(p.used)
            if not other.fits(f"GPU{idx} {who} {used}  "):
                other.fits("…")
                break
        out.append(other.text)
    return out


def _proc_text(prefix: str, p: ProcInfo, width: int) -> Text:
    line = _Line(width).add(prefix, "bold" if not prefix.startswith(" ") else DIM)
    line.add(f"{p.pid:>7} {p.name[:15]:<15} ")
    line.add("  n/a" if p.cpu_percent is None else f"{p.cpu_percent:4.0f}%", level_style(p.cpu_percent))
    line.add(f" {fmt_bytes(p.rss):>6}")
    for idx, used in sorted(p.gpu_mem.items()):
        if not line.fits(f"  GPU{idx} {fmt_bytes(used)}"):
            break
    return line.text


def proc_lines(snap: Snapshot, width: int, max_lines: int) -> list[Text]:
    out: list[Text] = []
    labels = distinct_labels(list(snap.runs))
    name_w = min(16, max((len(v) for v in labels.values()), default=0))
    labels = dict(zip(labels, fit_labels(list(labels.values()), name_w)))
    for run, procs in sorted(snap.runs.items()):
        for i, p in enumerate(procs):
            label = labels[run] if i == 0 else ""
            out.append(_proc_text(f"{label:<{name_w}} ", p, width))
            kids = p.children
            shown = kids if len(kids) <= 4 else kids[:3]
            for c in shown:
                out.append(_proc_text(" " * name_w + " └", c, width))
            if len(kids) > len(shown):
                rest = kids[len(shown):]
                cpu = sum(c.cpu_percent or 0 for c in rest)
                rss = sum(c.rss or 0 for c in rest)
                out.append(Text(f"{'':{name_w}}  └ +{len(rest)} more: {cpu:.0f}% CPU, {fmt_bytes(rss)} RSS", DIM))
    if len(out) > max_lines:
        out = out[: max_lines - 1] + [Text(f"… {len(out) - max_lines + 1} more process lines", DIM)]
    return out


def compact_line(snap: Snapshot, width: int, ascii: bool) -> Text:
    line = _Line(width)
    h = snap.host
    if h is not None:
        line.add("CPU", "bold").add(fmt_pct(h.cpu_percent), level_style(h.cpu_percent))
        line.add(" MEM", "bold").add(fmt_pct(h.mem_percent), level_style(h.mem_percent))
    if not snap.gpus:
        line.fits(" GPU n/a", DIM)
    elif len(snap.gpus) == 1:
        g = snap.gpus[0]
        mf = g.mem_fraction
        line.add(" GPU", "bold").add("lost" if g.lost else fmt_pct(g.util), level_style(g.util))
        line.fits(f" mem{fmt_pct(None if mf is None else mf * 100)}")
    else:
        util = [None if g.util is None else g.util for g in snap.gpus]
        mem = [None if g.mem_fraction is None else g.mem_fraction * 100 for g in snap.gpus]
        line.add(" GPU ", "bold").add(levels(util, len(util), ascii=ascii), GREEN)
        line.fits(" mem " + levels(mem, len(mem), ascii=ascii))
    n = sum(1 + len(p.children) for procs in snap.runs.values() for p in procs)
    if n:
        runs = len(snap.runs)
        line.fits(f"  {runs} run{'s' * (runs != 1)}, {n} proc{'s' * (n != 1)}", DIM)
    return line.text


def build_lines(snap: Snapshot | None, width: int, compact: bool, ascii: bool = False,
                max_proc_lines: int = 12, stale: float = 0.0) -> list[Text]:
    if snap is None:
        return [Text("gauges: waiting for the first sample…", DIM)]
    if compact:
        lines = [compact_line(snap, width, ascii)]
    else:
        lines = host_lines(snap, width, ascii) + gpu_lines(snap, width, ascii)
        lines += proc_lines(snap, width, max_proc_lines)
    if stale:
        lines[0] = lines[0] + Text(f"  (no new sample for {stale:.0f}s)", YELLOW)
    if ascii:
        lines = [_to_ascii(t) for t in lines]
    return lines


_ASCII = str.maketrans({"↓": "v", "↑": "^", "└": "`", "…": "~", "°": " "})


def _to_ascii(text: Text) -> Text:
    """The same line with one ASCII character for each non-ASCII one (spans stay valid)."""
    out = Text(text.plain.translate(_ASCII), no_wrap=True, overflow="ellipsis")
    out.spans = list(text.spans)
    return out


