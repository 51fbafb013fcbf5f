"""Detector behaviour beyond the labelled curves: config, pairing, resets, process hook,
resources, messages."""

import json

import numpy as np
import pytest

from curves import generators as G
from curves.harness import Case, Seg, feed
from mlmon_tui.analysis.config import DEFAULT, load_config
from mlmon_tui.analysis.findings import KINDS, Finding
from mlmon_tui.analysis.monitor import HealthMonitor
from mlmon_tui.analysis.pairs import find_pairs
from mlmon_tui.analysis.resources import ResourceSample, check_resources
from mlmon_tui.analysis.tags import ACCURACY, GRAD, LOSS, LR, REWARD, classify
from mlmon_tui.sources.base import ScalarBatch, Update
from mlmon_tui.store import Store


# -- config --------------------------------------------------------------------------------

def test_config_toml_overrides_and_rejects(tmp_path):
    p = tmp_path / "mlmon.toml"
    p.write_text("[health]\nspike_z = 20\nvanish_points = 7\n[other]\nx = 1\n")
    cfg = load_config(p)
    assert cfg.spike_z == 20.0 and cfg.vanish_points == 7
    assert cfg.window == DEFAULT.window
    p.write_text("[health]\nspike_zz = 3\n")
    with pytest.raises(ValueError, match="unknown .health. key 'spike_zz'"):
        load_config(p)
    p.write_text("[health]\nspike_z = 'high'\n")
    with pytest.raises(ValueError, match="must be a number"):
        load_config(p)
    p.write_text("[health\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(p)
    with pytest.raises(ValueError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_config_threshold_changes_outcome(tmp_path):
    """A stricter spike threshold in the config silences a spike the defaults report."""
    case = G.loss_spike(0)
    found = feed(case)[0].findings
    assert any(f.kind == "spike" for f in found)
    p = tmp_path / "c.toml"
    p.write_text("[health]\nspike_z = 1000\nspike_rel = 100\n")
    quiet = feed(case, monitor=HealthMonitor(load_config(p)))[0].findings
    assert not any(f.kind == "spike" for f in quiet)


# -- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("tag,cls", [
    ("train/loss", LOSS), ("val_loss", LOSS), ("Loss/train", LOSS), ("eval/perplexity", LOSS),
    ("val/acc", ACCURACY), ("epoch_accuracy", ACCURACY), ("f1", ACCURACY),
    ("grad_norm", GRAD), ("train/grad_norm", GRAD), ("gradients/layer1/norm", GRAD),
    ("grad_norm/encoder.0", GRAD), ("global_norm", GRAD),
    ("lr", LR), ("train/learning_rate", LR), ("lr-Adam", LR),
    ("rollout/ep_rew_mean", REWARD), ("episode_reward", REWARD),
])
def test_classify(tag, cls):
    assert classify(tag) == cls


def test_pairs_by_convention_and_across_runs():
    pairs = find_pairs({
        "a": ["train/loss", "val/loss", "lr"],
        "b": ["loss", "val_loss", "accuracy", "val_accuracy"],
        "c": ["train_loss_step", "train_loss_epoch", "val_loss"],
        "d": ["loss", "eval_loss"],
        "e": ["Loss/train", "Loss/test"],
        "k/train": ["epoch_loss", "epoch_accuracy"],
        "k/validation": ["epoch_loss", "epoch_accuracy"],
    })
    got = {(p.train_run, p.train_tag, p.val_run, p.val_tag, p.higher_better) for p in pairs}
    assert got == {
        ("a", "train/loss", "a", "val/loss", False),
        ("b", "loss", "b", "val_loss", False),
        ("b", "accuracy", "b", "val_accuracy", True),
        ("c", "train_loss_epoch", "c", "val_loss", False),
        ("d", "loss", "d", "eval_loss", False),
        ("e", "Loss/train", "e", "Loss/test", False),
        ("k/train", "epoch_loss", "k/validation", "epoch_loss", False),
        ("k/train", "epoch_accuracy", "k/validation", "epoch_accuracy", True),
    }


def test_overfitting_finding_carries_figures():
    case = G.overfitting(3)
    f = next(f for f in feed(case)[0].findings if f.kind == "overfitting")
    e = f.extra
    assert e["best_step"] == f.step and e["evals_since_best"] >= 4
    assert e["gap"] > 0 and 0 < e["ratio"] < 1  # train error below validation error
    assert "val/loss has risen" in f.message and "train/loss keeps falling" in f.message
    assert f"(step {f.step})" in f.message


# -- state: resets, purges -------------------------------------------------------------------

def _batch(tag, step, value, source="f1", purge=False, wall0=1e9):
    step = np.asarray(step, np.int64)
    return ScalarBatch("r", tag, step, wall0 + step.astype(float), np.asarray(value, float),
                       source=source, purge_orphans=purge)


def test_rewritten_file_restarts_series_state():
    store, mon = Store(), HealthMonitor()
    bad = np.linspace(2, 1, 200)
    bad[150] = np.nan
    mon.update(store, store.apply(Update(scalars=[_batch("loss", range(200), bad)])), now=1e9 + 300)
    assert [f.kind for f in mon.findings] == ["nan"]
    # the file was rewritten without the NaN: earlier points dropped, new ones read
    up = Update(resets=["f1"], scalars=[_batch("loss", range(200), np.linspace(2, 1, 200))])
    mon.update(store, store.apply(up), now=1e9 + 300)
    assert mon.findings == []


def test_nan_before_purged_orphans_is_forgotten_and_new_nan_found():
    store, mon = Store(), HealthMonitor()
    v = np.linspace(2, 1, 300)
    v[250] = np.nan
    mon.update(store, store.apply(Update(scalars=[_batch("loss", range(300), v)])), now=1e9 + 400)
    assert [(f.kind, f.step) for f in mon.findings] == [("nan", 250)]
    # resumed from step 200: the store drops steps >= 200; the new file has a NaN at 280
    w = np.linspace(1.3, 1.0, 100)
    w[80] = np.nan
    up = Update(scalars=[_batch("loss", range(200, 300), w, source="f2", purge=True)])
    mon.update(store, store.apply(up), now=1e9 + 400)
    assert [(f.kind, f.step) for f in mon.findings] == [("nan", 280)]


def test_update_returns_only_new_findings():
    store, mon = Store(), HealthMonitor()
    v = np.linspace(2, 1, 100)
    v[50] = np.inf
    first = mon.update(store, store.apply(Update(scalars=[_batch("loss", range(100), v)])), now=1e9)
    again = mon.update(store, store.apply(Update(scalars=[_batch("loss", range(100, 110), np.ones(10))])), now=1e9)
    assert [f.kind for f in first] == ["inf"] and again == []
    assert [f.kind for f in mon.findings] == ["inf"]


# -- stalls and the process hook ---------------------------------------------------------------

def _run_case(n=600, **kw):
    rng = np.random.default_rng(0)
    w = G.walls(rng, n)
    return Case("x", [Seg("run", "train/loss", np.arange(n), w, G.noisy(rng, G.decay(rng, n), 0.03))],
                now=float(w[-1]) + 3600, **kw), float(w[-1])


def test_process_gone_before_known_last_step_is_an_error():
    case, _ = _run_case(meta={"run": {"max_steps": 5000}}, alive=False)
    mon, _ = feed(case)
    (f,) = mon.findings
    assert (f.kind, f.severity, f.step) == ("stall", "error", 599)
    assert "gone at step 599 of 5000" in f.message
    assert mon.run_state("run") == "crashed"


def test_process_gone_without_known_end_is_finished():
    case, _ = _run_case(alive=False)
    mon, _ = feed(case)
    assert mon.findings == [] and mon.run_state("run") == "finished"


def test_live_process_without_data_is_hung():
    case, _ = _run_case(alive=True)
    mon, _ = feed(case)
    (f,) = mon.findings
    assert f.kind == "stall" and "still running" in f.message
    assert f.extra["quiet_s"] > 3000


def test_stall_clears_when_data_comes_back():
    case, last = _run_case(alive=True)
    mon, store = feed(case)
    assert [f.kind for f in mon.findings] == ["stall"]
    up = Update(scalars=[ScalarBatch("run", "train/loss", np.array([600]), np.array([last + 3600]),
                                     np.array([0.3]), source="events.1")])
    mon.update(store, store.apply(up), now=last + 3601)
    # the pause is now inside the data: reported once as a gap, at the same onset
    assert [(f.kind, f.step) for f in mon.findings] == [("stall", 599)]
    assert mon.run_state("run") == "live"


# -- resources ---------------------------------------------------------------------------------

def _samples(util, mem=50.0, t0=0.0, dt=2.0):
    return [ResourceSample(t0 + i * dt, gpu_util=(u, u / 2), gpu_mem_percent=(40.0, 40.0),
                           mem_percent=mem if np.isscalar(mem) else mem[i])
            for i, u in enumerate(util)]


def test_gpu_idle_while_a_run_is_live():
    busy_then_idle = [95.0] * 30 + [3.0] * 90
    (f,) = check_resources(_samples(busy_then_idle), ["r"], DEFAULT)
    assert f.kind == "gpu_idle" and f.run == "r" and f.wall_time == 60.0  # idle from sample 30
    assert check_resources(_samples(busy_then_idle), [], DEFAULT) == []  # nothing training
    assert check_resources(_samples([95.0] * 120), ["r"], DEFAULT) == []


def test_memory_pressure_needs_consecutive_samples():
    mem = [60.0] * 10 + [97.0] * 5
    (f,) = check_resources(_samples([90.0] * 15, mem=mem), ["r"], DEFAULT)
    assert f.kind == "memory_pressure" and f.tag == "host memory" and f.wall_time == 20.0
    blips = [60.0, 97.0] * 8
    assert check_resources(_samples([90.0] * 16, mem=blips), ["r"], DEFAULT) == []


def test_monitor_resources_use_live_runs():
    case, last = _run_case()
    case.now = last + 1
    mon, _ = feed(case)
    assert mon.run_state("run") == "live"
    new = mon.update_resources(_samples([2.0] * 100, t0=last - 200))
    assert [f.kind for f in new] == ["gpu_idle"]


# -- output ------------------------------------------------------------------------------------

def test_finding_json_has_the_documented_keys():
    f = Finding("nan", "error", "r", "loss", 5, 1.5, float("nan"), "loss became NaN")
    d = f.to_dict(extra=False)
    assert list(d) == ["run", "kind", "tag", "tags", "step", "severity", "wall_time", "value",
                       "message"]
    assert json.loads(json.dumps(d))["value"] == "NaN"
    assert set(KINDS) >= {"nan", "inf", "spike", "divergence", "exploding_gradients",
                          "vanishing_gradients", "overfitting", "plateau", "stall", "gpu_idle",
                          "memory_pressure"}


def test_samples_from_sampler_history():
    from dataclasses import dataclass

    from mlmon_tui.analysis.resources import samples_from_history

    @dataclass
    class History:  # the gauge sampler's History record: same fields, oldest first
        cpu: tuple = ()
        mem: tuple = ()
        gpu_util: tuple = ()
        gpu_mem: tuple = ()

    h = History(cpu=(5.0,) * 80, mem=(40.0,) * 80,
                gpu_util=((90.0,) * 20 + (1.0,) * 60, (None,) * 10 + (0.0,) * 70),
                gpu_mem=((0.5,) * 80, (0.99,) * 80))
    samples = samples_from_history(h, interval=2.0, now=1000.0)
    assert len(samples) == 80 and samples[-1].time == 1000.0 and samples[0].time == 842.0
    assert samples[0].gpu_util == (90.0, None) and samples[0].gpu_mem_percent == (50.0, 99.0)
    kinds = sorted((f.kind, f.tag) for f in check_resources(samples, ["r"], DEFAULT))
    assert kinds == [("gpu_idle", "gpu"), ("memory_pressure", "gpu1 memory")]
    idle = next(f for f in check_resources(samples, ["r"], DEFAULT) if f.kind == "gpu_idle")
    assert idle.wall_time == samples[20].time


def test_underfitting_is_an_info_plateau_of_the_pair():
    case = G.underfitting(2)
    (f,) = [f for f in feed(case)[0].findings if f.tag == "val/loss"]
    assert (f.kind, f.severity, f.extra["underfitting"]) == ("plateau", "info", True)
    assert "likely underfitting" in f.message


# -- any input -------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1,
                       max_size=400),
       cuts=st.lists(st.integers(1, 60), min_size=1, max_size=20),
       tag=st.sampled_from(["train/loss", "grad_norm", "val/acc", "ep_rew_mean", "lr", "x"]))
def test_any_values_any_chunking_never_crash_and_agree(values, cuts, tag):
    v = np.array(values, float)
    n = len(v)
    steps = np.arange(n, dtype=np.int64)
    walls = 1e9 + steps.astype(float)

    def run(bounds):
        store, mon = Store(), HealthMonitor()
        for a, b in zip(bounds[:-1], bounds[1:]):
            if b > a:
                up = Update(scalars=[ScalarBatch("r", tag, steps[a:b], walls[a:b], v[a:b], "s")])
                mon.update(store, store.apply(up), now=walls[b - 1] + 1)
        mon.finish(store)
        return sorted((f.kind, f.step) for f in mon.findings)

    chunked = [0] + [int(c) for c in np.cumsum(cuts) if c < n] + [n]
    assert run(chunked) == run([0, n])


def test_ongoing_resource_condition_is_reported_once():
    case, last = _run_case()
    case.now = last + 1
    mon, _ = feed(case)
    first = mon.update_resources(_samples([2.0] * 60, t0=last - 100))
    later = mon.update_resources(_samples([2.0] * 60, t0=last - 80))  # the window slid
    assert [f.kind for f in first] == ["gpu_idle"] and later == []
    assert [f.wall_time for f in mon.findings if f.kind == "gpu_idle"] == [last - 100]


def test_defaults_toml_round_trips(tmp_path):
    from mlmon_tui.analysis.config import defaults_toml

    p = tmp_path / "defaults.toml"
    p.write_text(defaults_toml())
    assert load_config(p) == DEFAULT


# -- short series, grouping, learning-rate steps ------------------------------------------------

def test_point_spike_bar_comes_back_down_after_a_chaotic_start():
    """The local noise around a point sets its bar: wild swings early do not hide a 12x jump
    a few points after they end, and the swings themselves are not spikes."""
    from mlmon_tui.analysis.shortrun import point_spikes

    rng = np.random.default_rng(0)
    v = 0.8 * np.exp(np.where(np.arange(40) < 10, 0.6, 0.02) * rng.standard_normal(40))
    v[14] = 12 * 0.8
    assert [i for i, _ in point_spikes(v, 3.0)] == [14]


def test_climb_is_judged_against_the_best_and_the_noise():
    from mlmon_tui.analysis.shortrun import climb

    e = np.arange(40, dtype=float)
    loss = 0.3 + 2.0 * np.exp(-e / 5)
    up = np.clip((e - 20) / 2, 0, 1)
    diverged = loss * (1 - up) + up * 2.5 * loss[20]
    onset, best, level = climb(diverged, 1.8, 3)
    assert 19 <= onset <= 21 and diverged[-1] < diverged[0] and level > 2 * diverged[best]
    assert climb(loss, 1.8, 3) is None  # healthy
    noise = np.random.default_rng(1).uniform(0.0, 1.0, 100)  # random values are not a run
    assert climb(noise, 1.8, 10) is None


def test_group_events_one_finding_per_event():
    from mlmon_tui.analysis.findings import group_events

    def f(tag, step, sev="warning", kind="spike"):
        return Finding(kind, sev, "r", tag, step, float(step), 1.0, f"{tag} spiked")

    out = group_events([f("loss", 100), f("train/loss", 100, "error"), f("val/loss", 102),
                        f("loss", 900), f("grad_norm", 100, kind="exploding_gradients")])
    by = {(g.kind, g.step): g for g in out}
    assert len(out) == 3
    g = by[("spike", 100)]
    assert g.tag == "train/loss" and g.severity == "error"  # the most severe leads
    assert set(g.tags) == {"loss", "train/loss", "val/loss"} and "3 in all" in g.message
    assert by[("spike", 900)].tags == ("loss",)
    assert g.to_dict()["tags"][0] == g.to_dict()["tag"]


def test_plateau_after_a_learning_rate_step_is_not_reported():
    """Same flat stretch after a descent: reported when the learning rate stayed, dropped
    when the learning rate was cut by 10 right before it."""
    from curves.harness import Case, Seg, feed

    rng = np.random.default_rng(4)
    n, t0 = 6000, 2000
    t = np.arange(n, dtype=float)
    clean = 0.2 + 2.3 * (1 + t / 300) ** -0.8
    clean[t0:] = clean[t0]
    loss = clean * np.exp(0.02 * rng.standard_normal(n))
    w = 1.7e9 + t
    steps = np.arange(n)
    for lr, expect in ((np.full(n, 1e-3), 1), (np.where(t < t0 - 50, 1e-2, 1e-3), 0)):
        case = Case("p", [Seg("run", "train/loss", steps, w, loss), Seg("run", "lr", steps, w, lr)])
        monitor, _ = feed(case, chunk=None)
        assert sum(f.kind == "plateau" for f in monitor.findings) == expect
