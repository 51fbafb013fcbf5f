"""`mlmon-tui cluster URL` (and `mlmon-tui --prometheus URL`): the cluster view on its own."""

from __future__ import annotations

import argparse

from textual.app import App

from mlmon_tui.app.cluster.screen import REFRESH_SECONDS, ClusterScreen
from mlmon_tui.sources.remote.prometheus import PromClient, check_url


class ClusterApp(App[None]):
    TITLE = "mlmon-tui cluster"

    def __init__(self, url: str, refresh: float = REFRESH_SECONDS, timeout: float = 3.0) -> None:
        super().__init__()
        self.client = PromClient(url, timeout=timeout)
        self.refresh_seconds = refresh

    def on_mount(self) -> None:
        self.push_screen(ClusterScreen(self.client, self.refresh_seconds))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mlmon-tui cluster",
                                description="Every node's GPUs and runs, from a Prometheus "
                                            "server that scrapes mlmon-tui agents (and DCGM "
                                            "exporter / node_exporter where present).")
    p.add_argument("url", metavar="URL", help="Prometheus server, e.g. http://prom:9090")
    p.add_argument("--refresh", type=float, default=REFRESH_SECONDS, metavar="SECONDS",
                   help=f"seconds between queries (default {REFRESH_SECONDS:g})")
    p.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                   help="HTTP timeout per query (default 3)")
    a = p.parse_args(argv)
    try:
        check_url(a.url)
    except ValueError as e:
        p.exit(2, f"mlmon-tui: error: {e}\n")
    if a.refresh <= 0 or a.timeout <= 0:
        p.exit(2, "mlmon-tui: error: --refresh and --timeout must be positive\n")
    ClusterApp(a.url, a.refresh, a.timeout).run()
    return 0
