"""The agent's /metrics: exposition checked by prometheus_client's parser and promtool, values
checked against the event files read back with tbparse, and a real Prometheus scraping two
agents on two log trees."""

from __future__ import annotations

import math
import subprocess

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlmon_tui.app.agent.collector import MlmonCollector
from mlmon_tui.app.services import Services
from mlmon_tui.store import Store
from promserver import PROMETHEUS, PROMTOOL, Agent, Prometheus, need_prometheus, need_promtool, write_tree


def _loss(n, nan_at=None):
    return [float("nan") if nan_at is not None and i >= nan_at else 2.0 / (i + 1)
            for i in range(n)]


def make_trees(root):
    """Two nodes' trees: node1 just written (alpha clean, beta NaN from step 40), node2 an
    hour old (gamma)."""
    node1 = write_tree(root / "node1", {
        "alpha": {"train/loss": _loss(60), "val/acc": [i / 60 for i in range(60)]},
        "beta": {"train/loss": _loss(50, nan_at=40)},
    })
    node2 = write_tree(root / "node2", {
        "gamma": {"train/loss": _loss(30), "lr": [0.1] * 30},
    }, age=3600)
    return node1, node2


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    return make_trees(tmp_path_factory.mktemp("nodes"))


def expected_last(tree):
    """(run, tag) -> last value, read back independently with tbparse."""
    from tbparse import SummaryReader

    df = SummaryReader(str(tree), extra_columns={"dir_name"}).scalars
    out = {}
    for (run, tag), g in df.groupby(["dir_name", "tag"]):
        out[(run, tag)] = float(g.sort_values("step")["value"].iloc[-1])
    return out


def collect(tree, **kw) -> tuple[MlmonCollector, str]:
    services = Services([str(tree)], Store(), gpu=False, listen=None)
    services.start(live=False)
    c = MlmonCollector(services, **kw)
    text = c.render().decode()
    # the fast path writes what prometheus-client's generic one writes, sample for sample
    fast, generic = samples(text), samples(generate_latest(_registry(c)).decode())
    assert fast.keys() == generic.keys()
    assert all(same(fast[k], generic[k]) for k in fast)
    return c, text


def samples(text: str) -> dict[tuple, float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-6)


def test_exposition_matches_the_logs(trees):
    node1, _ = trees
    _, text = collect(node1)
    got = samples(text)
    want = expected_last(node1)
    assert len(want) == 3
    for (run, tag), v in want.items():
        assert same(got[("mlmon_scalar", (("run", run), ("tag", tag)))], v), (run, tag)
    assert got[("mlmon_step", (("run", "alpha"),))] == 59
    assert got[("mlmon_step", (("run", "beta"),))] == 49
    assert got[("mlmon_steps_per_second", (("run", "alpha"),))] == pytest.approx(1.0, rel=0.05)
    nan = ("mlmon_findings", (("kind", "nan"), ("run", "beta"), ("severity", "error")))
    assert got[nan] == 1
    assert got[("mlmon_findings_total",) + nan[1:]] == 1
    assert not [k for k in got if k[0] == "mlmon_findings" and ("run", "alpha") in k[1]]
    assert got[("mlmon_dropped_series_total", ())] == 0


@need_promtool
def test_promtool_accepts_the_exposition(trees):
    _, text = collect(trees[0])
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


@need_promtool
def test_odd_names_are_escaped(tmp_path):
    tree = write_tree(tmp_path / "odd", {'we"ird\\run': {'a"b\\c': [1.0, 2.5]}})
    _, text = collect(tree)
    got = samples(text)
    [(key, v)] = [(k, v) for k, v in got.items() if k[0] == "mlmon_scalar"]
    assert dict(key[1])["run"] == 'we"ird\\run' and v == 2.5  # (tensorboardX cleans tags)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_export_tags_selects_scalars(trees):
    _, text = collect(trees[0], export_tags=r"^train/")
    tags = {dict(k[1])["tag"] for k in samples(text) if k[0] == "mlmon_scalar"}
    assert tags == {"train/loss"}


def test_series_cap_drops_and_counts(trees):
    _, full = collect(trees[0])
    n_full = len(samples(full))
    cap = n_full - 1 - 3  # room for all but the 3 scalars (the dropped-series counter is
    # always there, outside the cap)
    c, text = collect(trees[0], max_series=cap)
    got = samples(text)
    assert len(got) == cap + 1
    assert got[("mlmon_dropped_series_total", ())] == 3  # scalars go first: 3 of them
    assert not [k for k in got if k[0] == "mlmon_scalar"]
    # the count does not grow with scrapes: each dropped series counts once
    again = samples(c.render().decode())
    assert again[("mlmon_dropped_series_total", ())] == 3


def _registry(c):
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(c)
    return reg


def test_agent_rejects_bad_options(tmp_path):
    import sys

    from promserver import env

    def run(*args):
        return subprocess.run([sys.executable, "-m", "mlmon_tui", "agent", *args], env=env(),
                              capture_output=True, text=True, timeout=60)

    r = run(str(tmp_path))
    assert r.returncode == 2 and "needs --metrics-port" in r.stderr
    r = run(str(tmp_path), "--metrics-port", "0", "--export-tags", "(")
    assert r.returncode == 2 and "--export-tags" in r.stderr
    r = run(str(tmp_path / "missing"), "--metrics-port", "0")
    assert r.returncode == 2 and "no such file" in r.stderr


def test_agent_warns_off_loopback(tmp_path):
    a = Agent(tmp_path, extra=("--metrics-host", "0.0.0.0"))
    try:
        assert "warning: serving metrics on 0.0.0.0" in a.startup
        assert "mlmon_dropped_series_total" in a.metrics()
    finally:
        a.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Fresh trees (alpha must still be live), two agents (one per tree) and a Prometheus
    scraping both; torn down after the module."""
    if PROMETHEUS is None:
        pytest.skip("needs the prometheus server (Debian: prometheus)")
    trees = make_trees(tmp_path_factory.mktemp("fresh"))
    agents = [Agent(trees[0]), Agent(trees[1])]
    prom = Prometheus(tmp_path_factory.mktemp("prom"), [a.target for a in agents])
    try:
        prom.start()
        prom.wait_for("mlmon_step", 3)
        prom.wait_for('mlmon_scalar{run="alpha"}', 2)
        yield prom, agents, trees
    finally:
        prom.stop()
        for a in agents:
            a.stop()


@need_prometheus
def test_prometheus_scrapes_both_agents(cluster):
    prom, agents, trees = cluster
    up = {r["metric"]["instance"]: r["value"][1] for r in prom.query("up")}
    assert up == {a.target: "1" for a in agents}
    for agent, tree in zip(agents, trees):
        for (run, tag), v in expected_last(tree).items():
            [r] = prom.query(f'mlmon_scalar{{instance="{agent.target}",run="{run}",tag="{tag}"}}')
            assert same(float(r["value"][1]), v), (run, tag)
    steps = {(r["metric"]["instance"], r["metric"]["run"]): float(r["value"][1])
             for r in prom.query("mlmon_step")}
    assert steps == {(agents[0].target, "alpha"): 59, (agents[0].target, "beta"): 49,
                     (agents[1].target, "gamma"): 29}


@need_prometheus
def test_prometheus_sees_states_and_findings(cluster):
    prom, agents, _ = cluster
    states = {r["metric"]["run"]: r["metric"]["state"]
              for r in prom.query("mlmon_run_state == 1")}
    assert states["alpha"] == "live"  # written just now
    assert states["gamma"] != "live"  # its last point is an hour old
    found = {(r["metric"]["run"], r["metric"]["kind"]) for r in prom.query("mlmon_findings > 0")}
    assert ("beta", "nan") in found
    assert not [f for f in found if f[0] == "alpha"]
    [total] = prom.query('mlmon_findings_total{run="beta",kind="nan"}')
    assert total["metric"]["instance"] == agents[0].target and total["value"][1] == "1"


async def test_monitor_serves_what_its_runs_list_shows(trees):
    """The TUI as its node's agent: /metrics states and badges agree with the runs panel."""
    import urllib.request

    from mlmon_tui.app.agent.server import MetricsServer
    from mlmon_tui.app.app import MonitorApp
    from mlmon_tui.panels.runs import RunsPanel

    app = MonitorApp([str(trees[0])], watch=False, gpu=False, listen=None)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.3)
        server = MetricsServer(app.services, 0).start()
        try:
            with urllib.request.urlopen(server.url, timeout=5) as r:
                got = samples(r.read().decode())
        finally:
            server.stop()
        rows = app.query_one(RunsPanel)._rows
        assert {r.name for r in rows} == {"alpha", "beta"}
        for row in rows:
            assert got[("mlmon_run_state", (("run", row.name), ("state", row.state)))] == 1
            errors = got.get(("mlmon_findings", (("kind", "nan"), ("run", row.name),
                                                 ("severity", "error"))), 0)
            assert (row.badge[0] == "✖ 1") == (errors == 1)


def test_new_points_reach_the_next_scrape(tmp_path):
    """The per-run caches let unchanged runs cost nothing; a changed run is read again."""
    import time

    import numpy as np

    from mlmon_tui.records.metrics import ScalarBatch, Update

    tree = write_tree(tmp_path / "t", {"a": {"loss": [3.0, 2.0]}, "b": {"loss": [5.0]}})
    c, text = collect(tree)
    key = ("mlmon_scalar", (("run", "a"), ("tag", "loss")))
    assert samples(text)[key] == 2.0
    store = c.services.store
    store.apply(Update(scalars=[ScalarBatch("a", "loss", np.array([2]), np.array([time.time()]),
                                            np.array([1.5]))]))
    store.apply(Update(scalars=[ScalarBatch("a", "acc", np.array([2]), np.array([time.time()]),
                                            np.array([0.9]))]))
    got = samples(c.render().decode())
    assert got[key] == 1.5
    assert got[("mlmon_scalar", (("run", "a"), ("tag", "acc")))] == 0.9
    assert got[("mlmon_step", (("run", "a"),))] == 2
    assert got[("mlmon_scalar", (("run", "b"), ("tag", "loss")))] == 5.0
