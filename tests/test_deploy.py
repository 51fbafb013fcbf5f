"""deploy/: the alerting rules pass promtool's checks and unit tests; the Grafana dashboard
queries only metrics the agent exports (or DCGM's) and every query parses in Prometheus."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from promserver import PROMTOOL, need_promtool

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
EXPORTED = {  # the names README documents; the collector must emit each of these families
    "mlmon_scalar", "mlmon_step", "mlmon_steps_per_second", "mlmon_run_state",
    "mlmon_run_gpu_memory_bytes", "mlmon_run_cpu_percent", "mlmon_findings",
    "mlmon_findings_total", "mlmon_cpu_percent", "mlmon_memory_used_bytes",
    "mlmon_memory_total_bytes", "mlmon_gpu_utilization_percent", "mlmon_gpu_memory_used_bytes",
    "mlmon_gpu_memory_total_bytes", "mlmon_gpu_power_watts", "mlmon_gpu_temperature_celsius",
    "mlmon_dropped_series_total",
}


@need_promtool
def test_rules_pass_promtool_check():
    r = subprocess.run([PROMTOOL, "check", "rules", str(DEPLOY / "mlmon-alerts.yml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "6 rules found" in r.stdout


@need_promtool
def test_rules_fire_as_their_unit_tests_say():
    r = subprocess.run([PROMTOOL, "test", "rules", "mlmon-alerts.test.yml"], cwd=DEPLOY,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def _names(expr: str) -> set[str]:
    return set(re.findall(r"\b(mlmon_[a-z_]+|DCGM_FI_[A-Z_]+)\b", expr))


def test_dashboard_and_rules_use_exported_metrics():
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dash["templating"]["list"] if "definition" in v]
    exprs += re.findall(r"expr: (.*)", (DEPLOY / "mlmon-alerts.yml").read_text())
    used = set().union(*map(_names, exprs))
    dcgm = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED"}
    assert used - EXPORTED - dcgm == set()
    assert {"mlmon_scalar", "mlmon_gpu_utilization_percent", "mlmon_findings"} <= used
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])


def test_collector_emits_every_documented_family(tmp_path, monkeypatch):
    """Every documented family, with a real Sampler tick: host from psutil, GPUs from a
    recorded H100's NVML answers replayed at pynvml's boundary."""
    from nvml_fake import FakeNvml
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from mlmon_tui.app.agent.collector import MlmonCollector
    from mlmon_tui.app.services import Services
    from mlmon_tui.sources.system.sampler import Sampler
    from mlmon_tui.store import Store

    fake = FakeNvml("h100_real").install(monkeypatch)
    services = Services([str(tmp_path)], Store(), gpu=True, listen=None)
    services.sampler = Sampler(gpu=True)
    services.sampler.sample_now()
    services.sampler.sample_now()
    reg = CollectorRegistry(auto_describe=False)
    reg.register(MlmonCollector(services))
    text = generate_latest(reg).decode()
    declared = set(re.findall(r"^# TYPE (\S+)", text, re.M))
    assert EXPORTED - {"mlmon_run_gpu_memory_bytes", "mlmon_run_cpu_percent"} <= declared
    dev = fake.data["devices"][0]
    got = {(s.name, s.labels.get("gpu")): s.value
           for f in text_string_to_metric_families(text) for s in f.samples}
    assert got[("mlmon_gpu_utilization_percent", "0")] == dev["utilization"]["gpu"]
    assert got[("mlmon_gpu_memory_used_bytes", "0")] == dev["memory"]["used"]
    assert got[("mlmon_gpu_memory_total_bytes", "0")] == dev["memory"]["total"]
    assert got[("mlmon_gpu_power_watts", "0")] == dev["power_usage"] / 1000
