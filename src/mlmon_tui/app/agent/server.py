"""Serve `/metrics` for a running `Services`, through prometheus-client's own HTTP server."""

from __future__ import annotations

import ipaddress
import socket
import sys

from prometheus_client import CollectorRegistry, start_http_server

from mlmon_tui.app.agent.collector import DEFAULT_MAX_SERIES, MlmonCollector


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsServer:
    def __init__(self, services, port: int, host: str = "127.0.0.1", *,
                 export_tags: str | None = None, max_series: int = DEFAULT_MAX_SERIES) -> None:
        self.collector = MlmonCollector(services, export_tags=export_tags, max_series=max_series)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self.host, self.port = host, port
        self._server = self._thread = None

    def start(self) -> "MetricsServer":
        self._server, self._thread = start_http_server(self.port, self.host,
                                                       registry=self.registry)
        self.port = self._server.server_address[1]
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def add_metrics_options(p) -> None:
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve Prometheus metrics on http://HOST:PORT/metrics")
    p.add_argument("--metrics-host", default="127.0.0.1", metavar="ADDR",
                   help="address for --metrics-port (default 127.0.0.1; others warn)")
    p.add_argument("--export-tags", metavar="REGEX",
                   help="export only scalars whose tag matches REGEX (default: all)")
    p.add_argument("--max-series", type=int, default=DEFAULT_MAX_SERIES, metavar="N",
                   help=f"series cap; beyond it scalars are dropped and counted "
                        f"(default {DEFAULT_MAX_SERIES})")


def check_metrics_options(parser, a) -> None:
    """Exit with one line on a bad value; warn on a non-loopback address."""
    import re

    if a.metrics_port is not None and not 0 <= a.metrics_port <= 65535:
        parser.exit(2, "mlmon-tui: error: --metrics-port must be in 0..65535\n")
    if a.max_series < 1:
        parser.exit(2, "mlmon-tui: error: --max-series must be positive\n")
    if a.export_tags:
        try:
            re.compile(a.export_tags)
        except re.error as e:
            parser.exit(2, f"mlmon-tui: error: --export-tags: {e}\n")
    if a.metrics_port is not None and not is_loopback(a.metrics_host):
        print(f"mlmon-tui: warning: serving metrics on {a.metrics_host}:{a.metrics_port}: "
              "anyone who can reach it can read them (no authentication)", file=sys.stderr)


def start_metrics(services, a) -> MetricsServer | None:
    """The server asked for by --metrics-port, started; None when not asked for.
    Raises OSError (port in use, bad address) with the address in the message."""
    if getattr(a, "metrics_port", None) is None:
        return None
    try:
        return MetricsServer(services, a.metrics_port, a.metrics_host,
                             export_tags=a.export_tags, max_series=a.max_series).start()
    except (OSError, socket.gaierror) as e:
        raise OSError(f"cannot serve metrics on {a.metrics_host}:{a.metrics_port}: "
                      f"{e.strerror or e}") from None
