"""Prometheus' HTTP query API, with the standard library only: instant and range queries,
every failure one `PromError` with a one-line message, every request under a timeout."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request


class PromError(Exception):
    """Prometheus could not answer (unreachable, an error status, a bad answer)."""


def check_url(url: str) -> str:
    """The base URL without a trailing slash; ValueError with a plain reason if unusable."""
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise ValueError(f"{url!r} is not an http(s):// URL of a Prometheus server")
    return url.rstrip("/")


def _float(v: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


class PromClient:
    def __init__(self, url: str, timeout: float = 3.0) -> None:
        self.url = check_url(url)
        self.timeout = timeout

    def _get(self, path: str, params: dict) -> dict:
        full = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(full, timeout=self.timeout) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            try:
                body = json.load(e)
            except Exception:
                raise PromError(f"Prometheus at {self.url}: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise PromError(f"Prometheus at {self.url} unreachable: {reason}") from None
        except ValueError:
            raise PromError(f"Prometheus at {self.url}: not a JSON answer") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            err = body.get("error", "unknown error") if isinstance(body, dict) else "bad answer"
            raise PromError(f"Prometheus at {self.url}: {err}")
        return body.get("data") or {}

    def query(self, expr: str) -> list[tuple[dict, float]]:
        """An instant vector: (labels, value) per series."""
        data = self._get("/api/v1/query", {"query": expr})
        if data.get("resultType") != "vector":
            return []
        return [(r.get("metric", {}), _float(r.get("value", [0, ""])[1]))
                for r in data.get("result", [])]

    def query_range(self, expr: str, start: float, end: float,
                    step: float) -> list[tuple[dict, list[tuple[float, float]]]]:
        """A range matrix: (labels, [(unix time, value), ...]) per series."""
        data = self._get("/api/v1/query_range",
                         {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}",
                          "step": f"{max(step, 0.001):.3f}"})
        return [(r.get("metric", {}), [(float(t), _float(v)) for t, v in r.get("values", [])])
                for r in data.get("result", [])]
