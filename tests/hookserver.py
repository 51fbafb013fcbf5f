"""A real loopback HTTP server for webhook tests: records each POST; can answer with a given
list of status codes, or (status, headers) pairs (then 200), or hold every request until
released."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HookServer:
    def __init__(self, statuses=(), hang: bool = False) -> None:
        self.statuses = list(statuses)
        self.hang = hang
        self.release = threading.Event()  # lets held requests answer
        self.arrived = threading.Event()  # set at the first request
        self.requests: list[dict] = []  # {"path", "headers", "body"} per request
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                with outer.lock:
                    outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "body": raw})
                    status = outer.statuses.pop(0) if outer.statuses else 200
                status, headers = status if isinstance(status, tuple) else (status, {})
                outer.arrived.set()
                if outer.hang:
                    outer.release.wait(30)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/secret-token"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "HookServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]
