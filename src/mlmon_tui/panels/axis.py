"""Axis ticks (1/2/5 x 10^k, or round durations for time axes) and compact labels."""

from __future__ import annotations

import math
import time

# candidates for a range end with headroom: finer than 1/2/5 so little space is wasted
_CEIL_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
_SECOND_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
                 21600, 43200, 86400, 172800, 432000, 864000, 2592000)


def nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 x 10^k that is >= raw."""
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    k = math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        s = m * 10.0**k
        if s >= raw * (1 - 1e-12):
            return s
    return 10.0 ** (k + 1)


def nice_ceil(v: float) -> float:
    """A round number >= v (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k); 0 stays 0."""
    if v == 0 or not math.isfinite(v):
        return v
    if v < 0:
        return -nice_floor(-v)
    k = math.floor(math.log10(v))
    for m in _CEIL_STEPS:
        c = m * 10.0**k
        if c >= v * (1 - 1e-12):
            return float(f"{c:.12g}")
    return 10.0 ** (k + 1)


def nice_floor(v: float) -> float:
    if v == 0 or not math.isfinite(v):
        return v
    if v < 0:
        return -nice_ceil(-v)
    k = math.floor(math.log10(v))
    for m in reversed(_CEIL_STEPS):
        c = m * 10.0**k
        if c <= v * (1 + 1e-12):
            return float(f"{c:.12g}")
    return 10.0 ** (k - 1) * 8


def ticks(lo: float, hi: float, max_ticks: int, *, time_axis: bool = False) -> list[float]:
    """Round tick values inside [lo, hi], at most `max_ticks` of them (at least one if the
    range is valid). With `time_axis` the step is a round duration in seconds."""
    if max_ticks < 1 or not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(hi - lo)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max_ticks
    step = nice_step(raw)
    if time_axis and raw >= 1:
        step = next((s for s in _SECOND_STEPS if s >= raw), nice_step(raw / 86400) * 86400)
    while True:
        first = math.ceil(lo / step - 1e-9)
        last = math.floor(hi / step + 1e-9)
        n = last - first + 1
        if n <= max_ticks or max_ticks == 1 and n <= 1:
            break
        step = nice_step(step * 1.0001) if not time_axis else _next_time_step(step)
        if not math.isfinite(step) or step > abs(hi - lo) * 10:
            return [lo]
    # the 1e-9 slack above can let a tick of a huge step fall outside a range far from 0
    tol = 1e-9 * max(abs(lo), abs(hi), 1.0)
    out = [v for v in (round(i * step, 12) for i in range(first, last + 1)) if lo - tol <= v <= hi + tol]
    return out or [lo]


def _next_time_step(step: float) -> float:
    return next((s for s in _SECOND_STEPS if s > step), step * 2)


def log_ticks(lo: float, hi: float, max_ticks: int) -> list[float]:
    """Powers of ten in [lo, hi] (lo, hi > 0), thinned to at most `max_ticks`."""
    if not (0 < lo < math.inf and 0 < hi < math.inf) or max_ticks < 1:
        return []
    a, b = math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9)
    if b < a:  # less than a decade: fall back to linear ticks
        return ticks(lo, hi, max_ticks)
    every = max(1, math.ceil((b - a + 1) / max_ticks))
    return [10.0**k for k in range(a, b + 1) if (k - a) % every == 0]


def format_value(v: float, step: float | None = None) -> str:
    """Compact number: 1.2k, 3.5M, 0.25, 1e-4, -12. `step` (the tick spacing) decides how
    many decimals are needed to tell neighbouring ticks apart."""
    if v is None or isinstance(v, float) and math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    a = abs(v)
    scale = abs(step) if step else a
    if 1000 <= a < 1e15:
        for div, suf in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if a >= div:
                d = _decimals(scale / div) if step else max(0, 2 - int(math.log10(a / div)))
                return f"{v / div:.{d}f}".rstrip("0").rstrip(".") + suf if d else f"{v / div:.0f}{suf}"
    if a < 1e-3 or a >= 1e15:
        if step:  # enough mantissa digits to tell ticks `step` apart
            digits = max(0, math.ceil(math.log10(a / abs(step)) - 1e-9))
            s = f"{v:.{min(digits, 6)}e}"
        else:
            s = f"{v:.1e}"
        mant, exp = s.split("e")
        mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
        return f"{mant}e{int(exp)}"
    d = min(8, _decimals(scale)) if step else min(4, max(0, 3 - int(math.floor(math.log10(a)))))
    s = f"{v:.{d}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _decimals(scale: float) -> int:
    """Decimals needed to write multiples of `scale` exactly (0.25 -> 2, 500 -> 0)."""
    if scale <= 0 or not math.isfinite(scale):
        return 0
    for d in range(7):
        m = scale * 10**d
        if abs(m - round(m)) <= 1e-6 * max(1.0, m):
            return d
    return 6


def _decimals_e(v: float, step: float) -> bool:
    # a mantissa decimal is needed when the step is finer than the value's own power of ten
    return abs(step) < 10.0 ** math.floor(math.log10(abs(v)))


def format_duration(seconds: float) -> str:
    """Relative time: 45s, 5m, 1.5h, 2h, 3d."""
    s = float(seconds)
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s < 60:
        return f"{sign}{s:.0f}s" if s >= 1 or s == 0 else f"{sign}{s:.1f}s"
    for div, suf in ((86400, "d"), (3600, "h"), (60, "m")):
        if s >= div:
            q = s / div
            txt = f"{q:.1f}".rstrip("0").rstrip(".")
            return f"{sign}{txt}{suf}"
    return f"{sign}{s:.0f}s"  # pragma: no cover


def format_clock(t: float, step: float) -> str:
    """Wall-clock label in local time: 12:30, 12:30:15 for second steps, 11-23 for days."""
    lt = time.localtime(t)
    if step >= 86400:
        return time.strftime("%m-%d", lt)
    if step < 60:
        return time.strftime("%H:%M:%S", lt)
    return time.strftime("%H:%M", lt)


def format_tick(v: float, step: float, mode: str = "value") -> str:
    """Label for a tick: mode is "value", "step", "relative" (duration) or "wall" (clock)."""
    if mode == "relative":
        return format_duration(v)
    if mode == "wall":
        return format_clock(v, step)
    return format_value(v, step)
