"""Thresholds of the health detectors, with defaults, loadable from the `[health]` table of a
TOML file:

    [health]
    spike_z = 12            # any field below; unknown keys are an error, not ignored

Every number is relative to the series' own level or rhythm where it can be, so one set of
defaults fits losses near 10 and near 1e-4, runs logging every 50 ms and every 10 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class HealthConfig:
    # rolling reference: median and MAD of the `window` points before each block of `block`
    window: int = 48  # points in the rolling window
    block: int = 8  # the reference moves every `block` points (aligned, so results do not
    #                 depend on how points arrived)

    # spike: point above median + max(spike_z * 1.4826 * MAD, spike_rel * |median|); for
    # positive series as a ratio: log(point / median) above spike_z_log * 1.4826 * MAD(log)
    spike_z: float = 10.0
    spike_z_log: float = 6.0
    spike_rel: float = 1.0  # at least this fraction above the median (1.0 = double)
    spike_recover_points: int = 8  # recovered = the last 3 of the next points back near the level
    spike_unrecovered_factor: float = 3.0  # a jump that stays is only a spike when this much
    #                                        larger than the threshold (else it is a level change)
    max_findings_per_series: int = 20

    # divergence: smoothed loss above (1 + rel) x its best (positive losses; others: above
    # best + frac * (first - best))...
    divergence_frac: float = 0.5
    divergence_rel: float = 0.8
    divergence_blocks: int = 8  # ...for this many consecutive blocks (8 x 8 = 64 points)
    divergence_wait: float = 0.4  # ...and this fraction of the run's age at the onset, while
    #                               it does not come back down (a warm restart does)

    # short series (epoch logs, sparse evaluations; see shortrun.py)
    short_spike_ratio: float = 3.0  # one point this many times both its neighbours
    short_divergence_ratio: float = 1.8  # running median of 3 this many times its best...
    short_divergence_points: int = 3  # ...for this many points up to the end

    # gradients
    explode_factor: float = 10.0  # grad norm above this times its rolling median
    grad_norm_max: float = 1e4  # or above this absolute bound
    vanish_floor: float = 1e-7  # norms below this for `vanish_points` points in a row
    vanish_points: int = 20
    layer_ratio_floor: float = 1e-3  # earliest/last layer norm ratio below this...
    layer_ratio_drop: float = 100.0  # ...having fallen at least this much from its start

    # overfitting: validation vs its best (lower-is-better after flipping accuracies)
    overfit_patience: int = 3  # evaluations since the best
    overfit_rise_rel: float = 0.05  # recent validation at least 5 % worse than its best
    overfit_noise_k: float = 4.0  # ...and this many noise sigmas (noisy flat val is not flagged)
    overfit_train_rel: float = 0.02  # training improved at least 2 % since the best
    overfit_min_evals: int = 5
    overfit_min_acc_drop: float = 0.005  # accuracies: at least half a point below the best
    underfit_rel: float = 0.05  # both improved less than 5 % after 2 x overfit_min_evals evals

    # plateau (see progress.PlateauDetector): the smoothed loss has stayed within its noise
    # band for plateau_frac of the run (and plateau_min_blocks blocks) right after a descent
    # that was still going strong, by at least plateau_rel of the level
    plateau_rel: float = 0.02
    plateau_frac: float = 0.25  # ...of the run's length
    plateau_min_blocks: int = 25  # ...and at least this many blocks (200 points)

    # stall: no data for stall_factor x the high quantile of the run's own gaps
    stall_factor: float = 10.0
    stall_quantile: float = 0.99
    stall_min_s: float = 120.0  # never less than this
    stall_min_gaps: int = 10  # learn the rhythm from at least this many gaps first
    stale_after_s: float = 6 * 3600.0  # older data with no live process: an old, finished run

    # resources
    gpu_idle_util: float = 10.0  # percent: every GPU below this on average...
    gpu_idle_window_s: float = 120.0  # ...over this long while a run is live
    memory_pressure_percent: float = 95.0  # host or GPU memory at or above this...
    memory_pressure_samples: int = 3  # ...for this many samples in a row


DEFAULT = HealthConfig()


def load_config(path: Path | str | None) -> HealthConfig:
    """The defaults overridden by the `[health]` table of the TOML file at `path`.

    Raises ValueError with a one-line reason for unreadable files, unknown keys or bad types.
    """
    if path is None:
        return DEFAULT
    path = Path(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise ValueError(f"cannot read config {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config {path} is not valid TOML: {e}") from None
    table = doc.get("health", {})
    if not isinstance(table, dict):
        raise ValueError(f"config {path}: [health] must be a table")
    return from_mapping(table, where=str(path))


def from_mapping(table: dict, where: str = "config") -> HealthConfig:
    known = {f.name: f for f in fields(HealthConfig)}
    changes = {}
    for key, value in table.items():
        f = known.get(key)
        if f is None:
            raise ValueError(f"{where}: unknown [health] key {key!r} (known: {', '.join(known)})")
        want = type(getattr(DEFAULT, key))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: [health] {key} must be a number, not {value!r}")
        if want is int and not float(value).is_integer():
            raise ValueError(f"{where}: [health] {key} must be a whole number, not {value!r}")
        if value < 0:
            raise ValueError(f"{where}: [health] {key} must not be negative")
        changes[key] = want(value)
    cfg = replace(DEFAULT, **changes)
    if cfg.window < 4 or cfg.block < 1 or cfg.block > cfg.window:
        raise ValueError(f"{where}: [health] needs window >= 4 and 1 <= block <= window")
    return cfg


def defaults_toml() -> str:
    """The `[health]` table with every default, to copy into a config file."""
    lines = ["[health]"]
    for f in fields(HealthConfig):
        v = getattr(DEFAULT, f.name)
        lines.append(f"{f.name} = {v!r}")
    return "\n".join(lines) + "\n"
