"""Serve `/metrics` for a running `Services`, through prometheus-client's own HTTP server."""

from __future__ import annotations

import socket
import sys

import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST

from mlmon_tui.app.agent.collector import DEFAULT_MAX_SERIES, MlmonCollector
from mlmon_tui.sources.socket.protocol import is_loopback


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # no line per scrape on stderr
        pass


class MetricsServer:
    """GET /metrics (and /) answers the collector's exposition; anything else is 404."""

    def __init__(self, services, port: int, host: str = "127.0.0.1", *,
                 export_tags: str | None = None, max_series: int = DEFAULT_MAX_SERIES) -> None:
        self.collector = MlmonCollector(services, export_tags=export_tags, max_series=max_series)
        self.host, self.port = host, port
        self._server = self._thread = None

    def _app(self, environ, start_response):
        if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found; metrics are at /metrics\n"]
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        body = self.collector.render()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST),
                                  ("Content-Length", str(len(body)))])
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]

    def start(self) -> "MetricsServer":
        cls = _Server6 if ":" in self.host else _Server
        self._server = make_server(self.host, self.port, self._app, server_class=cls,
                                   handler_class=_Quiet)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="metrics-http")
        self._thread.start()
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
