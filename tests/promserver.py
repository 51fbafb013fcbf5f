"""Real parts for the Prometheus tests: log trees written with tensorboardX, `mlmon-tui agent`
processes, and a Prometheus server (Debian's `prometheus`) scraping them on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
need_prometheus = pytest.mark.skipif(PROMETHEUS is None,
                                     reason="needs the prometheus server (Debian: prometheus)")
need_promtool = pytest.mark.skipif(PROMTOOL is None,
                                   reason="needs promtool (Debian: prometheus)")


def write_tree(root: Path, runs: dict[str, dict[str, list[float]]], age: float = 0.0) -> Path:
    """runs: {run: {tag: values at steps 0..n-1}}, written as TensorBoard event files, one
    step a second ending `age` seconds ago."""
    from tensorboardX import SummaryWriter

    for run, tags in runs.items():
        w = SummaryWriter(str(root / run))
        n = max(len(v) for v in tags.values())
        t0 = time.time() - age - n
        for step in range(n):
            for tag, values in tags.items():
                if step < len(values):
                    w.add_scalar(tag, values[step], step, walltime=t0 + step)
        w.close()
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    return e


class Agent:
    def __init__(self, *paths: Path, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlmon_tui", "agent", *map(str, paths), "--metrics-port",
             str(self.port), "--no-gpu", "--interval", "1", *extra],
            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.startup = ""  # what it said before "serving URL" (said once listening)
        while True:
            line = self.proc.stderr.readline()
            if line.startswith("mlmon-tui agent: serving"):
                break
            self.startup += line
            if not line:
                self.stop()
                raise RuntimeError(f"agent did not start: {self.startup}")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://{self.target}/metrics", timeout=5) as r:
            return r.read().decode()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


class Prometheus:
    def __init__(self, workdir: Path, targets: list[str], port: int | None = None) -> None:
        self.port = port or free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        cfg = workdir / "prometheus.yml"
        cfg.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: mlmon\n    static_configs:\n"
            f"      - targets: {json.dumps(targets)}\n")
        self.cfg = cfg
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Prometheus":
        self.log = open(self.workdir / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.cfg}", f"--storage.tsdb.path={self.workdir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("prometheus did not become ready")

    def query(self, expr: str) -> list[dict]:
        q = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def wait_for(self, expr: str, n: int, timeout: float = 30.0) -> list[dict]:
        deadline = time.time() + timeout
        got: list[dict] = []
        while time.time() < deadline:
            got = self.query(expr)
            if len(got) >= n:
                return got
            time.sleep(0.3)
        raise AssertionError(f"{expr}: {len(got)} series after {timeout}s, wanted {n}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
