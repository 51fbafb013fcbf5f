"""A sweep's runs as table rows: hyper-parameters, state, and for one metric its last, best
and smoothed-last values; sorted, filtered, ranked. Pure: the caller hands in the series.

Hyper-parameters come from every reader in one place, `RunInfo.meta["hparams"]`; nested
dicts are flattened with `/`, numbers stay numbers (a numeric string such as `"3e-4"` is
read as one), so a column sorts as numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from mlmon_tui.store.smoothing import ema_debiased

LOWER_BETTER = re.compile(r"loss|err|perplex|ppl|mse|mae|rmse|nll|cost|regret|wer|cer|fid|"
                          r"distance|diverg|time|latency", re.I)
HIGHER_BETTER = re.compile(r"acc|f1|auc|reward|return|precision|recall|map\b|bleu|rouge|"
                           r"score|iou|dice|r2|top\d|psnr|ssim|success", re.I)
VALIDATION = re.compile(r"(^|[/_\-. ])(val|valid|validation|eval|evaluation|test|dev)"
                        r"([/_\-. ]|$)|^(val|eval|valid|test)", re.I)
SEED_KEY = re.compile(r"(^|[/_.\-])(seed|random_seed|rng|rng_seed|trial|run_id|version)$", re.I)
FIXED_COLUMNS = ("run", "state", "last_step", "last", "best", "best_step", "smoothed_last")
MAX_TEXT = 24


def direction(tag: str) -> str:
    """"min" or "max": which way is better for a metric, guessed from its name (a name that
    says neither is taken as a loss)."""
    name = tag.rsplit("/", 1)[-1] if "/" in tag else tag
    for text in (name, tag):
        lo, hi = LOWER_BETTER.search(text), HIGHER_BETTER.search(text)
        if hi and not lo:
            return "max"
        if lo and not hi:
            return "min"
        if lo and hi:  # "val_acc_loss": the later word wins
            return "min" if lo.start() > hi.start() else "max"
    return "min"


def default_metric(tags: list[str]) -> str | None:
    """The first validation loss-like tag, else the first loss-like one, else the first."""
    tags = sorted(tags)
    for want in (lambda t: VALIDATION.search(t) and LOWER_BETTER.search(t) and "loss" in t.lower(),
                 lambda t: VALIDATION.search(t) and direction(t) == "min" and LOWER_BETTER.search(t),
                 lambda t: "loss" in t.lower(),
                 lambda t: True):
        hit = next((t for t in tags if want(t)), None)
        if hit is not None:
            return hit
    return None


def plain_value(v):
    """A hyper-parameter value as it sorts: numbers as numbers (numeric strings too), short
    text otherwise; None for what is not a value."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        s = v.strip()
        if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
            f = float(s)
            return int(f) if re.fullmatch(r"[-+]?\d+", s) else f
        return s
    if isinstance(v, (list, tuple)):
        return str(list(v))
    return str(v)


def flatten(hp: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in hp.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        else:
            out[key] = plain_value(v)
    return out


def fmt_value(v, width: int = MAX_TEXT) -> str:
    """A cell: numbers in 4 significant digits, long text shortened in the middle."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return str(v) if abs(v) < 10**7 else f"{v:.3g}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    s = str(v)
    return s if len(s) <= width else s[: width // 2 - 1] + "…" + s[-(width - width // 2):]


_FLAT: dict[int, tuple[dict, dict]] = {}


def flat_hparams(hp) -> dict:
    """`flatten(hp)`, remembered while the same dict stays in the run's metadata (a reader
    that sends new hyper-parameters sends a new dict)."""
    if not isinstance(hp, dict) or not hp:
        return {}
    hit = _FLAT.get(id(hp))
    if hit is not None and hit[0] is hp:
        return hit[1]
    if len(_FLAT) > 20000:
        _FLAT.clear()
    flat = flatten(hp)
    _FLAT[id(hp)] = (hp, flat)
    return flat


@dataclass
class Row:
    run: str
    hparams: dict = field(default_factory=dict)
    state: str = ""
    last_step: int | None = None
    last: float | None = None
    best: float | None = None
    best_step: int | None = None
    smoothed_last: float | None = None
    badge: tuple[str, str] = ("", "")

    def get(self, column: str):
        if column in FIXED_COLUMNS:
            return getattr(self, column)
        return self.hparams.get(column)

    def as_json(self) -> dict:
        return {"run": self.run, "hparams": self.hparams, "state": self.state,
                "last_step": self.last_step, "last": self.last, "best": self.best,
                "best_step": self.best_step, "smoothed_last": self.smoothed_last}


def metric_figures(step: np.ndarray, value: np.ndarray, want: str, smoothing: float):
    """(last, best, best_step, smoothed_last) of one series; non-finite values skipped."""
    fin = np.isfinite(value)
    if not fin.any():
        return None, None, None, None
    v, s = value[fin], step[fin]
    i = int(np.argmin(v) if want == "min" else np.argmax(v))
    return float(v[-1]), float(v[i]), int(s[i]), smoothed_last(v, smoothing)


def smoothed_last(v: np.ndarray, weight: float) -> float:
    """The last value of TensorBoard's debiased EMA of the finite values `v` (what the chart's
    smoothed line ends at), from the tail that still counts: no pass over the whole run."""
    n = len(v)
    if weight <= 0 or n == 1:
        return float(v[-1])
    w = min(float(weight), 0.999999)
    if n <= 64 or w >= 0.99:
        return float(ema_debiased(v, w)[-1])
    k = min(n, int(np.ceil(np.log(1e-18) / np.log(w))) + 1)  # older points weigh < 1e-18
    tail = v[n - k:]
    if np.all(tail == v[0]) and np.all(v == v[0]):
        return float(v[0])
    weights = (1.0 - w) * np.power(w, np.arange(k - 1, -1, -1, dtype=np.float64))
    return float(np.dot(weights, tail) / (1.0 - w**n))


def build_rows(store, runs: list[str], metric: str | None, *, smoothing: float = 0.6,
               want: str | None = None, states: dict | None = None,
               badges: dict | None = None) -> list[Row]:
    """One row per run, read from `store` under its lock."""
    want = want or (direction(metric) if metric else "min")
    rows = []
    with store.lock:
        for run in runs:
            info = store.run_info(run)
            hp = info.meta.get("hparams")
            row = Row(run, dict(flat_hparams(hp)),
                      (states or {}).get(run, ""), info.last_step,
                      badge=(badges or {}).get(run, ("", "")))
            s = store.series(run, metric) if metric else None
            if s is not None and len(s):
                row.last, row.best, row.best_step, row.smoothed_last = metric_figures(
                    s.step, s.value, want, smoothing)
            rows.append(row)
    return rows


def hparam_columns(rows: list[Row]) -> list[str]:
    """Hyper-parameter keys, those whose value varies across the rows first (each group in
    first-seen order)."""
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r.hparams))
    def varies(k):
        return len({repr(r.hparams.get(k)) for r in rows}) > 1
    vary = [k for k in keys if varies(k)]
    return vary + [k for k in keys if k not in vary]


def _sort_key(v):
    """Numbers before text before missing; numbers by value."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return (2, 0, "")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, v, "")
    return (1, 0, str(v))


def sort_rows(rows: list[Row], column: str, descending: bool = False) -> list[Row]:
    """Rows by `column`; missing values last whichever the direction; ties by run name."""
    by_name = sorted(rows, key=lambda r: r.run)
    present = [r for r in by_name if _sort_key(r.get(column))[0] < 2]
    missing = [r for r in by_name if _sort_key(r.get(column))[0] == 2]
    present.sort(key=lambda r: _sort_key(r.get(column)), reverse=descending)
    return present + missing


def filter_rows(rows: list[Row], pattern: str | None = None, top: int | None = None,
                want: str = "min") -> list[Row]:
    """Rows whose run or any hyper-parameter `k=v` matches `pattern`, then the `top` best by
    the metric's best value (in the order given)."""
    if pattern:
        pat = re.compile(pattern)
        rows = [r for r in rows if pat.search(r.run)
                or any(pat.search(f"{k}={fmt_value(v)}") for k, v in r.hparams.items())]
    if top is not None and top > 0:
        ranked = sort_rows(rows, "best", descending=want == "max")[:top]
        keep = {r.run for r in ranked}
        rows = [r for r in rows if r.run in keep]
    return rows
