"""What the cluster view shows, read from Prometheus: one `Node` per scraped host, with its
GPUs (our agents' series, else NVIDIA's DCGM exporter), host CPU and memory (ours, else
node_exporter's) and its runs (step, steps/s, state, findings by severity)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from mlmon_tui.records.metrics import ScalarBatch, Update
from mlmon_tui.sources.remote.prometheus import PromClient


@dataclass
class NodeGpu:
    gpu: str
    name: str = ""
    util: float | None = None
    mem_used: float | None = None  # bytes
    mem_total: float | None = None


@dataclass
class NodeRun:
    run: str
    step: float | None = None
    rate: float | None = None
    state: str = ""
    findings: dict[str, int] = field(default_factory=dict)  # severity -> active count


@dataclass
class Node:
    instance: str
    gpus: dict[str, NodeGpu] = field(default_factory=dict)
    runs: dict[str, NodeRun] = field(default_factory=dict)
    cpu: float | None = None
    mem_used: float | None = None
    mem_total: float | None = None


def host_of(instance: str) -> str:
    m = re.match(r"^\[?([^\]]*?)\]?(?::\d+)?$", instance)
    return m.group(1) if m else instance


class Nodes:
    """Nodes by instance; series of other exporters join the agent node on the same host."""

    def __init__(self) -> None:
        self.by_instance: dict[str, Node] = {}

    def agent(self, labels: dict) -> Node:
        inst = labels.get("instance", "?")
        return self.by_instance.setdefault(inst, Node(inst))

    def other(self, labels: dict) -> Node:
        inst = labels.get("instance", "?")
        if inst in self.by_instance:
            return self.by_instance[inst]
        for host in (host_of(inst), labels.get("Hostname")):  # DCGM's own label, as a fallback
            same = [n for n in self.by_instance.values() if host and host_of(n.instance) == host]
            if len(same) == 1:
                return same[0]
        return self.by_instance.setdefault(inst, Node(inst))


def read_cluster(client: PromClient) -> list[Node]:
    """Every node; raises PromError when Prometheus cannot answer."""
    nodes = Nodes()
    q = client.query
    for labels, v in q("mlmon_step"):
        nodes.agent(labels).runs.setdefault(labels.get("run", "?"),
                                            NodeRun(labels.get("run", "?"))).step = v
    for labels, v in q("mlmon_steps_per_second"):
        _run(nodes.agent(labels), labels).rate = v
    for labels, v in q("mlmon_run_state == 1"):
        _run(nodes.agent(labels), labels).state = labels.get("state", "")
    for labels, v in q("mlmon_findings > 0"):
        r = _run(nodes.agent(labels), labels)
        sev = labels.get("severity", "info")
        r.findings[sev] = r.findings.get(sev, 0) + int(v)
    for metric, attr in (("mlmon_gpu_utilization_percent", "util"),
                         ("mlmon_gpu_memory_used_bytes", "mem_used"),
                         ("mlmon_gpu_memory_total_bytes", "mem_total")):
        for labels, v in q(metric):
            _gpu(nodes.agent(labels), labels, labels.get("name", "")).__setattr__(attr, v)
    for labels, v in q("mlmon_cpu_percent"):
        nodes.agent(labels).cpu = v
    for labels, v in q("mlmon_memory_used_bytes"):
        nodes.agent(labels).mem_used = v
    for labels, v in q("mlmon_memory_total_bytes"):
        nodes.agent(labels).mem_total = v
    _dcgm(nodes, q)
    _node_exporter(nodes, q)
    return sorted(nodes.by_instance.values(), key=lambda n: n.instance)


def _run(node: Node, labels: dict) -> NodeRun:
    name = labels.get("run", "?")
    return node.runs.setdefault(name, NodeRun(name))


def _gpu(node: Node, labels: dict, name: str) -> NodeGpu:
    g = node.gpus.setdefault(labels.get("gpu", "?"), NodeGpu(labels.get("gpu", "?")))
    g.name = g.name or name
    return g


def _dcgm(nodes: Nodes, q) -> None:
    """DCGM exporter: utilisation in percent, framebuffer used/free in MiB."""
    mib = 1024 * 1024
    for labels, v in q("DCGM_FI_DEV_GPU_UTIL"):
        g = _gpu(nodes.other(labels), labels, labels.get("modelName", ""))
        if g.util is None:
            g.util = v
    used = {(lb.get("instance"), lb.get("gpu")): v for lb, v in q("DCGM_FI_DEV_FB_USED")}
    for labels, free in q("DCGM_FI_DEV_FB_FREE"):
        u = used.get((labels.get("instance"), labels.get("gpu")))
        g = _gpu(nodes.other(labels), labels, labels.get("modelName", ""))
        if u is not None and g.mem_used is None:
            g.mem_used, g.mem_total = u * mib, (u + free) * mib


def _node_exporter(nodes: Nodes, q) -> None:
    for labels, v in q('100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])))'):
        n = nodes.other(labels)
        if n.cpu is None:
            n.cpu = v
    avail = {lb.get("instance"): v for lb, v in q("node_memory_MemAvailable_bytes")}
    for labels, total in q("node_memory_MemTotal_bytes"):
        n = nodes.other(labels)
        a = avail.get(labels.get("instance"))
        if n.mem_total is None and a is not None:
            n.mem_total, n.mem_used = total, total - a


def run_history(client: PromClient, instance: str, run: str, seconds: float = 3600.0,
                now: float | None = None, points: int = 400) -> Update:
    """One run's scalars over the last `seconds`, from range queries, as an `Update` for a
    `Store`. Steps come from the run's own `mlmon_step` at the same instants."""
    end = now if now is not None else time.time()
    start = end - seconds
    step = max(1.0, seconds / points)
    sel = f'instance="{_esc(instance)}",run="{_esc(run)}"'
    steps = client.query_range(f"mlmon_step{{{sel}}}", start, end, step)
    scal = client.query_range(f"mlmon_scalar{{{sel}}}", start, end, step)
    up = Update()
    if not steps:
        return up
    st_t = np.array([t for t, _ in steps[0][1]], dtype=float)
    st_v = np.array([v for _, v in steps[0][1]], dtype=float)
    for labels, values in scal:
        t = np.array([x for x, _ in values], dtype=float)
        v = np.array([y for _, y in values], dtype=float)
        s = np.rint(np.interp(t, st_t, st_v)).astype(np.int64)
        # keep one point per step: Prometheus repeats the last value between scrapes
        keep = np.r_[True, s[1:] != s[:-1]]
        up.scalars.append(ScalarBatch(run, labels.get("tag", "?"), s[keep], t[keep], v[keep],
                                      source=f"prometheus:{instance}"))
    return up


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')
