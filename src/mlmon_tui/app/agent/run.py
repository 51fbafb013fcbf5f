"""`mlmon-tui agent`: watch, analyse and sample headlessly; serve it all on /metrics."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from mlmon_tui.app.agent.server import add_metrics_options, check_metrics_options, start_metrics


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mlmon-tui agent",
        description="Headless: watch log trees, run the health analysis, sample the gauges and "
                    "serve everything to Prometheus on /metrics.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--poll", action="store_true", help="poll instead of inotify")
    p.add_argument("--no-gpu", action="store_true", help="do not query NVIDIA GPUs (NVML)")
    p.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                   help="CPU/memory/GPU sampling interval (default 5)")
    p.add_argument("--config", metavar="FILE", help="TOML file with health thresholds")
    add_metrics_options(p)
    return p


def main(argv: list[str]) -> int:
    import os

    p = parser()
    a = p.parse_args(argv)
    if a.metrics_port is None:
        p.exit(2, "mlmon-tui: error: agent needs --metrics-port PORT\n")
    for path in a.paths:
        if not os.path.exists(path):
            p.exit(2, f"mlmon-tui: error: no such file or directory: {path}\n")
    if a.interval <= 0:
        p.exit(2, "mlmon-tui: error: --interval must be positive\n")
    check_metrics_options(p, a)
    config = None
    if a.config:
        from mlmon_tui.analysis.config import load_config

        try:
            config = load_config(a.config)
        except Exception as e:
            p.exit(2, f"mlmon-tui: error: {a.config}: {e}\n")

    from mlmon_tui.app.services import Services
    from mlmon_tui.store import Store

    services = Services(a.paths, Store(), poll=a.poll, gpu=not a.no_gpu, interval=a.interval,
                        listen=None, config=config)
    try:
        server = start_metrics(services, a)
    except OSError as e:
        print(f"mlmon-tui: error: {e}", file=sys.stderr)
        return 1
    services.on_data = lambda: server.collector.counter.observe(services.findings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    services.start(live=True)
    print(f"mlmon-tui agent: serving {server.url}", file=sys.stderr, flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
        services.stop()
    return 0
