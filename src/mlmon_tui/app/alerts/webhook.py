"""`--webhook URL`: POST the finding's JSON (with a `text` field) with a timeout and a few
retries, backing off between them; standard library only."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

from mlmon_tui import __version__
from mlmon_tui.app.alerts.channel import Channel, Outcome
from mlmon_tui.sources.socket.protocol import is_loopback

TIMEOUT_S = 10.0
ATTEMPTS = 3
BACKOFF_S = 1.0  # before the 2nd attempt; doubles after
MAX_WAIT_S = 30.0  # the most a server's Retry-After makes us wait


def check_url(url: str) -> str:
    """The URL if it can be posted to, else ValueError with a one-line reason."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http:// or https:// URL: {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as e:
        raise ValueError(f"{url!r}: {e}") from None
    return url


def redacted(url: str) -> str:
    """Scheme and host only: a webhook's path is often its secret (Slack, Discord)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…" if parts.path.strip("/") else f"{parts.scheme}://{host}{port}"




class WebhookChannel(Channel):
    name = "webhook"

    def __init__(self, url: str, *, timeout: float = TIMEOUT_S, attempts: int = ATTEMPTS,
                 backoff: float = BACKOFF_S, **kw) -> None:
        super().__init__(**kw)
        self.url = check_url(url)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._wake = threading.Event()
        host = urllib.parse.urlsplit(url).hostname or ""
        # a proxy from the environment is for the outside world, not for this machine
        handlers = [urllib.request.ProxyHandler({})] if is_loopback(host) else []
        self._opener = urllib.request.build_opener(*handlers)

    def describe(self) -> str:
        return f"webhook {redacted(self.url)}"

    def deliver(self, job) -> tuple[str, str]:
        body, _env = job
        outcome, problem, asked = Outcome.FAILED, "", None
        for attempt in range(self.attempts):
            if attempt:
                with self._lock:
                    self.stats.retries += 1
                wait = self.backoff * 2 ** (attempt - 1) if asked is None else asked
                if self._wake.wait(min(wait, MAX_WAIT_S)):
                    break  # closing
            outcome, problem, again, asked = self._post(body)
            if outcome == Outcome.SENT or not again:
                break
        return outcome, problem

    def _post(self, body: bytes) -> tuple[str, str, bool, float | None]:
        """(outcome, problem, worth retrying, seconds the server asked us to wait)"""
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"mlmon-tui/{__version__}",
        })
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                resp.read(65536)
            return Outcome.SENT, "", False, None
        except urllib.error.HTTPError as e:
            retry = e.code >= 500 or e.code in (408, 429)
            return Outcome.FAILED, f"HTTP {e.code} {e.reason}", retry, _retry_after(e)
        except urllib.error.URLError as e:
            if isinstance(e.reason, (TimeoutError, socket.timeout)):
                return Outcome.TIMED_OUT, f"no answer within {self.timeout:g} s", True, None
            return Outcome.FAILED, f"{e.reason}", True, None
        except (TimeoutError, socket.timeout):
            return Outcome.TIMED_OUT, f"no answer within {self.timeout:g} s", True, None
        except OSError as e:  # reset connection, half-read answer...
            return Outcome.FAILED, f"{type(e).__name__}: {e}", True, None

    def abort(self) -> None:
        self._wake.set()


def _retry_after(e: urllib.error.HTTPError) -> float | None:
    """A Retry-After in seconds (the HTTP-date form is rare from webhooks: ignored)."""
    try:
        value = float((e.headers or {}).get("Retry-After", ""))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None
