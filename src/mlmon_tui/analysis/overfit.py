"""Overfitting: validation stops improving and turns worse while training still improves.

Judged on the evaluations themselves (there are few): the best is taken on a running median of
three so one lucky evaluation is not "the best"; the rise must beat both a relative margin and
the validation's own noise (estimated from second differences), so noisy flat validation is not
flagged. Accuracy-like pairs are flipped so that lower is better throughout.
"""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.config import HealthConfig
from mlmon_tui.analysis.findings import Finding, fmt
from mlmon_tui.analysis.medians import median, running3
from mlmon_tui.analysis.pairs import Pair
from mlmon_tui.analysis.rolling import MAD_TO_SIGMA

MAX_EVALS = 2000


def _median3(v: np.ndarray) -> np.ndarray:
    """Centred running median of three (the first: the mean of two, the last: itself), so the best of a V-shaped
    validation curve stays at its bottom and one lucky evaluation is not "the best"."""
    if len(v) < 3:
        return v.copy()
    out = v.copy()
    out[1:-1] = running3(v)
    out[0] = 0.5 * (v[0] + v[1])  # a lucky first evaluation alone is not the best either
    return out


class _Clock:
    """Pairs evaluations with the training loss by time order: the training values logged
    before each evaluation. Wall times when both series have them and they overlap (the
    evaluation cadence and step numbering may differ from training's); steps otherwise."""

    def __init__(self, train, vstep, vwall) -> None:
        tw = train.wall
        use_wall = (len(tw) and len(vwall) and np.all(np.isfinite(vwall))
                    and np.isfinite(tw[0]) and np.isfinite(tw[-1])
                    and tw[0] <= vwall[-1] and vwall[0] <= tw[-1] + 1.0
                    and tw[-1] > tw[0] and vwall[-1] > vwall[0]  # real times, not a file's
                    and bool(np.all(tw[1:] >= tw[:-1])))
        self.key = tw if use_wall else train.step
        self.at = vwall if use_wall else vstep
        self.value = train.value

    def level(self, k: int, window: int) -> float:
        """Median of the last `window` training values logged up to evaluation k."""
        j = int(np.searchsorted(self.key, self.at[k], side="right"))
        seg = self.value[max(0, j - window) : j]
        seg = seg[np.isfinite(seg)]
        return float(median(seg)) if len(seg) else float("nan")


def check_pair(pair: Pair, train, val, cfg: HealthConfig) -> Finding | None:
    """`train`, `val`: objects with step/wall/value arrays (store series)."""
    # the last MAX_EVALS evaluations are plenty (validation logged every step stays O(1))
    vstep, vwall, vraw = val.step[-MAX_EVALS:], val.wall[-MAX_EVALS:], val.value[-MAX_EVALS:]
    ok = np.isfinite(vraw)
    if ok.sum() < cfg.overfit_min_evals or not len(train.step):
        return None
    vstep, vwall, vraw = vstep[ok], vwall[ok], vraw[ok]
    # work on "badness": losses as they are, accuracies as error rates (or negated if unbounded)
    mixed = pair.train_higher_better not in (None, pair.higher_better)  # val F1 ~ train loss
    top = tbad = None
    if pair.higher_better or mixed:
        tvals = train.value[np.isfinite(train.value)]
        top = _top(vraw) if mixed else _top(vraw, tvals)  # of the values judged together
        if mixed:
            tbad = _badness(pair.train_higher_better, _top(tvals))
    bad = _badness(pair.higher_better, top)
    tbad = tbad or bad
    if not pair.higher_better:
        top = None
    v = bad(vraw)
    s = _median3(v)
    best_i = int(np.argmin(s))
    since = len(v) - 1 - best_i
    if since < cfg.overfit_patience:
        return _underfitting(pair, train, vstep, vwall, vraw, v, bad, cfg)
    best = float(s[best_i])
    if pair.higher_better and top is not None and recent_raw_drop(vraw, best_i, since) < \
            cfg.overfit_min_acc_drop * top:
        return _underfitting(pair, train, vstep, vwall, vraw, v, bad, cfg)
    noise = _Noise(v)
    recent = float(median(v[-min(3, since):]))
    risen = False
    # the margin is at least the relative one: below that, no noise makes it a rise
    if recent - best > max(cfg.overfit_rise_rel * abs(best), 1e-12):
        margin = max(cfg.overfit_rise_rel * abs(best), cfg.overfit_noise_k * noise(), 1e-12)
        after = v[best_i + 1 :]
        risen = recent - best > margin and np.mean(after > best + 0.5 * margin) >= 0.6
    if not risen and not _sustained_rise(v, best_i, since, noise, best, cfg) \
            and not _steady_rise(v, best_i, since, best, cfg):
        return _underfitting(pair, train, vstep, vwall, vraw, v, bad, cfg)
    # training must still be improving between the best evaluation and now
    tw = max(5, cfg.window // 4)
    clock = _Clock(train, vstep, vwall)
    t_best = tbad(clock.level(best_i, tw))
    t_now = tbad(clock.level(len(v) - 1, tw))
    if not (np.isfinite(t_best) and np.isfinite(t_now)):
        return None
    if t_best - t_now <= cfg.overfit_train_rel * max(abs(t_best), 1e-12):
        return None
    # onset: the raw best evaluation around the smoothed best
    lo = max(0, best_i - 1)
    onset = lo + int(np.argmin(v[lo : best_i + 2]))
    raw_best, raw_recent = float(vraw[onset]), float(median(vraw[-min(3, since):]))
    rel = abs(raw_recent - raw_best) / abs(raw_best) if raw_best else float("inf")
    train_now = clock.level(len(v) - 1, tw)
    val_now = float(vraw[-1])
    if pair.higher_better:
        err_t, err_v = _error(train_now), _error(val_now)
        verb, tverb, dirword = "fallen", "rising", "below"
        if mixed:
            err_t, tverb = float("nan"), "falling"
    else:
        err_t, err_v = train_now, val_now
        verb, tverb, dirword = "risen", "falling", "above"
    ratio = err_t / err_v if err_v else float("nan")
    gap = val_now - train_now
    vname, tname = pair.val_tag, pair.train_tag
    if pair.val_run != pair.train_run:  # Keras: same tag in runs X/train and X/validation
        vname = f"{pair.val_run.rsplit('/', 1)[-1]}/{vname}"
        tname = f"{pair.train_run.rsplit('/', 1)[-1]}/{tname}"
    msg = (f"{vname} has {verb} {rel:.0%} {dirword} its best (step {int(vstep[onset])}) "
           f"for {since} evaluations while {tname} keeps {tverb}: likely overfitting")
    return Finding(
        kind="overfitting", severity="warning", run=pair.val_run, tag=pair.val_tag,
        step=int(vstep[onset]), wall_time=float(vwall[onset]), value=val_now, message=msg,
        extra={"best_step": int(vstep[onset]), "best": raw_best, "gap": gap,
               "ratio": ratio, "evals_since_best": since, "train_run": pair.train_run,
               "train_tag": pair.train_tag},
    )


class _Noise:
    """The validation's noise, worked out when first needed: from first differences, or from
    second ones when lower (a steep early descent inflates the first, a trend is not noise;
    the second are immune to it)."""

    def __init__(self, v: np.ndarray) -> None:
        self.v, self.value = v, None

    def __call__(self) -> float:
        if self.value is None:
            v = self.v
            noise = MAD_TO_SIGMA * float(median(np.abs(np.diff(v)))) / np.sqrt(2.0)
            if len(v) >= 3:
                noise = min(noise, MAD_TO_SIGMA * float(median(np.abs(np.diff(v, 2))))
                            / np.sqrt(6.0))
            self.value = noise
        return self.value


def _sustained_rise(v, best_i: int, since: int, noise: _Noise, best: float, cfg) -> bool:
    """For noisy validation: the median of the last third of the evaluations since the best
    stands well above the level around the best, by its standard error (many noisy points
    tell what a few cannot). Needs twice the patience."""
    if since < 2 * cfg.overfit_patience:
        return False
    around = v[max(0, best_i - 2) : best_i + 3]
    m = max(3, since // 3)
    late = v[-m:]
    rise = float(median(late)) - float(median(around))
    if not rise > cfg.overfit_rise_rel * abs(best):
        return False  # below the relative margin: no noise makes it a rise
    if noise() <= 0:
        return False
    se = 1.2533 * noise() * np.sqrt(1.0 / len(around) + 1.0 / m)  # of a difference of medians
    return rise > max(cfg.overfit_rise_rel * abs(best), cfg.overfit_noise_k * se)


def _steady_rise(v, best_i: int, since: int, best: float, cfg) -> bool:
    """For few, quiet evaluations: the noise estimate of the whole curve is inflated by the
    early descent's curvature; instead, from the raw best evaluation on (around the smoothed
    one), the validation either climbs nearly in order (rank correlation with time >= 0.8) or
    stays up (the last three all above the best), by the relative margin and by several
    times the noise of that stretch (from its second differences)."""
    lo = max(0, best_i - 1)
    onset = lo + int(np.argmin(v[lo : best_i + 2]))
    seg = v[onset:]
    if len(seg) - 1 < cfg.overfit_patience or len(seg) < 4:
        return False
    floor = cfg.overfit_rise_rel * abs(best)
    rise = float(median(seg[-3:])) - float(seg[0])
    stays = float(np.min(seg[-3:])) - float(seg[0])
    if not (rise > floor or stays > floor):
        return False  # below the relative margin: no noise can make it a rise
    # noise from the second differences of that stretch, or of the later half of all the
    # evaluations when larger (a few points can look quiet by chance)
    late = v[len(v) // 2 :]
    noise = MAD_TO_SIGMA * max(float(median(np.abs(np.diff(x, 2)))) if len(x) >= 3 else 0.0
                               for x in (seg, late)) / np.sqrt(6.0)
    if rise > max(floor, 3.0 * noise):
        ranks = np.argsort(np.argsort(seg, kind="stable"), kind="stable")
        if float(np.corrcoef(ranks, np.arange(len(seg)))[0, 1]) >= 0.8:
            return True
    return stays > max(floor, 5.0 * noise)


def _underfitting(pair, train, vstep, vwall, vraw, v, bad, cfg) -> Finding | None:
    """Both training and validation still near where they started after many evaluations:
    the model is not learning (info, reported as a plateau of the pair)."""
    if len(v) < 2 * cfg.overfit_min_evals or pair.train_higher_better not in (
            None, pair.higher_better):
        return None
        return None
    q = max(2, len(v) // 4)
    rel = cfg.underfit_rel
    v0, v1 = float(median(v[:q])), float(median(v[-q:]))
    if v0 - v1 > rel * abs(v0):
        return None  # validation improved: learning
    tv = train.value[np.isfinite(train.value)]
    if len(tv) < 8:
        return None
    tq = max(2, len(tv) // 4)
    t0, t1 = float(bad(median(tv[:tq]))), float(bad(median(tv[-tq:])))
    if t0 - t1 > rel * abs(t0):
        return None  # training improved: learning
    first_v, last_v = float(median(vraw[:q])), float(median(vraw[-q:]))
    msg = (f"{pair.train_tag} and {pair.val_tag} have both stayed near where they started "
           f"({fmt(first_v)} -> {fmt(last_v)}) over {len(v)} evaluations: likely underfitting "
           f"(the model is not learning)")
    return Finding(kind="plateau", severity="info", run=pair.val_run, tag=pair.val_tag,
                   step=int(vstep[0]), wall_time=float(vwall[0]), value=float(vraw[-1]),
                   message=msg, extra={"underfitting": True, "train_tag": pair.train_tag})


def _top(*parts: np.ndarray) -> float | None:
    """1 or 100 for accuracies (the values of `parts` together) that are fractions or
    percents; None when unbounded."""
    parts = tuple(p for p in parts if p.size)
    if not parts:
        return None
    lo, hi = min(p.min() for p in parts), max(p.max() for p in parts)
    if lo < 0:
        return None
    return 1.0 if hi <= 1.0 else 100.0 if hi <= 100.0 else None


def recent_raw_drop(vraw: np.ndarray, best_i: int, since: int) -> float:
    """How far the recent accuracy sits below the best one, in the accuracy's own units."""
    lo = max(0, best_i - 2)
    return float(np.max(vraw[lo : best_i + 1]) - median(vraw[-min(3, since):]))


def _badness(higher_better: bool, top: float | None):
    """Map values to lower-is-better: error rates for accuracies in [0, 1] or [0, 100]
    (`top`, from `_top`)."""
    if not higher_better:
        return lambda x: x
    if top is not None:
        return lambda x: top - x
    return lambda x: -x


def _error(acc: float) -> float:
    """Error rate of an accuracy-like value (fraction or percent)."""
    return (100.0 - acc) if acc > 1.0 else (1.0 - acc)
