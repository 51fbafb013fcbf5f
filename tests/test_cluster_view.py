"""The cluster view, driven with Pilot against a real Prometheus scraping two real agents."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from textual.widgets import OptionList, Static

from mlmon_tui.app.cluster.run import ClusterApp
from mlmon_tui.app.cluster.screen import ClusterScreen, RunChartsScreen
from promserver import Prometheus, env, free_port, need_prometheus
from test_prometheus_agent import cluster, expected_last  # noqa: F401  (module fixture)


async def until(pilot, cond, timeout=20.0):
    for _ in range(int(timeout / 0.1)):
        if cond():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not met in time")


def lines(app) -> list[str]:
    ol = app.screen.query_one(OptionList)
    return [str(ol.get_option_at_index(i).prompt) if isinstance(
        ol.get_option_at_index(i).prompt, str) else ol.get_option_at_index(i).prompt.plain
        for i in range(ol.option_count)]


@need_prometheus
async def test_cluster_view_shows_both_nodes_and_their_runs(cluster):  # noqa: F811
    prom, agents, _ = cluster
    app = ClusterApp(prom.url, refresh=0.5)
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ClusterScreen)
        await until(pilot, lambda: len(screen.nodes) == 2)
        text = lines(app)
        node_lines = [t for t in text if t.startswith("127.0.0.1:")]
        assert sorted(node_lines[i].split()[0] for i in range(2)) == sorted(
            a.target for a in agents)
        runs = {t.split()[0]: t for t in text if t.startswith("  ")}
        assert set(runs) == {"alpha", "beta", "gamma"}
        assert "step      59" in runs["alpha"] and "live" in runs["alpha"]
        assert "✓" in runs["alpha"]
        assert "✖ 1" in runs["beta"]  # the NaN, an error
        assert "live" not in runs["gamma"]
        # gamma sits under the second agent's node line
        assert text.index(runs["gamma"]) > text.index(
            next(t for t in node_lines if t.startswith(agents[1].target)))
        status = str(screen.query_one("#cluster-status", Static).render())
        assert "2 nodes, 3 runs" in status


@need_prometheus
async def test_selecting_a_run_charts_its_scalars_from_range_queries(cluster):  # noqa: F811
    prom, agents, trees = cluster
    want = expected_last(trees[0])
    app = ClusterApp(prom.url, refresh=5)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await until(pilot, lambda: len(screen.nodes) == 2)
        ol = screen.query_one(OptionList)
        ids = [ol.get_option_at_index(i).id for i in range(ol.option_count)]
        ol.highlighted = ids.index(f"run\0{agents[0].target}\0alpha")
        ol.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunChartsScreen))
        charts = app.screen
        await until(pilot, lambda: charts.store.tags("alpha") != [])
        assert charts.store.tags("alpha") == ["train/loss", "val/acc"]
        for tag in ("train/loss", "val/acc"):
            s = charts.store.series("alpha", tag)
            assert s.last_step == 59
            assert s.last_value == pytest.approx(want[("alpha", tag)], rel=1e-6)
        await pilot.press("escape")
        assert isinstance(app.screen, ClusterScreen)


@need_prometheus
async def test_unreachable_prometheus_is_one_line_and_recovers(cluster, tmp_path):  # noqa: F811
    _, agents, _ = cluster
    port = free_port()
    app = ClusterApp(f"http://127.0.0.1:{port}", refresh=0.5, timeout=1.0)
    prom = None
    try:
        async with app.run_test(size=(120, 24)) as pilot:
            screen = app.screen
            await until(pilot, lambda: screen.error is not None)
            status = screen.query_one("#cluster-status", Static)
            assert "unreachable" in screen.error and "\n" not in screen.error
            assert status.has_class("error")
            prom = Prometheus(tmp_path / "late", [agents[1].target], port=port)
            await asyncio.get_running_loop().run_in_executor(None, prom.start)
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: prom.wait_for("mlmon_step", 1))
            await until(pilot, lambda: screen.error is None and len(screen.nodes) == 1)
            assert not status.has_class("error")
            assert any("gamma" in t for t in lines(app))
    finally:
        if prom is not None:
            prom.stop()


def test_cluster_rejects_a_bad_url():
    r = subprocess.run([sys.executable, "-m", "mlmon_tui", "cluster", "prom:9090"], env=env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not an http(s):// URL" in r.stderr
    r = subprocess.run([sys.executable, "-m", "mlmon_tui", "--prometheus", "ftp://x"], env=env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not an http(s):// URL" in r.stderr


@need_prometheus
def test_dcgm_and_node_exporter_series_join_the_agents_node(cluster, tmp_path):  # noqa: F811
    """DCGM exporter's and node_exporter's metric names, served by a prometheus_client
    exporter on the agent's host, scraped by a real Prometheus: one node, their figures."""
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    from mlmon_tui.sources.remote.cluster import read_cluster
    from mlmon_tui.sources.remote.prometheus import PromClient

    _, agents, _ = cluster
    reg = CollectorRegistry()
    lb = ["gpu", "UUID", "modelName", "Hostname"]
    Gauge("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", lb, registry=reg).labels(
        "0", "GPU-1", "NVIDIA H100 80GB HBM3", "node2").set(87)
    Gauge("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", lb, registry=reg).labels(
        "0", "GPU-1", "NVIDIA H100 80GB HBM3", "node2").set(40000)
    Gauge("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", lb, registry=reg).labels(
        "0", "GPU-1", "NVIDIA H100 80GB HBM3", "node2").set(41559)
    Gauge("node_memory_MemTotal_bytes", "", registry=reg).set(64 * 2**30)
    Gauge("node_memory_MemAvailable_bytes", "", registry=reg).set(48 * 2**30)
    port = free_port()
    server, _ = start_http_server(port, "127.0.0.1", registry=reg)
    prom = Prometheus(tmp_path / "p", [agents[1].target, f"127.0.0.1:{port}"])
    try:
        prom.start()
        prom.wait_for("DCGM_FI_DEV_FB_FREE", 1)
        prom.wait_for("mlmon_step", 1)
        [node] = read_cluster(PromClient(prom.url))
        assert node.instance == agents[1].target and set(node.runs) == {"gamma"}
        g = node.gpus["0"]
        assert (g.util, g.name) == (87, "NVIDIA H100 80GB HBM3")
        assert g.mem_used == 40000 * 2**20 and g.mem_total == 81559 * 2**20
        # the agent's own host figures win over node_exporter's
        assert node.mem_total is not None and node.mem_total != 64 * 2**30
    finally:
        prom.stop()
        server.shutdown()
        server.server_close()
