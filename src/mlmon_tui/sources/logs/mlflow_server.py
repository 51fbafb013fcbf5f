"""An MLflow tracking server (`mlmon-tui http://127.0.0.1:5000`), polled over its REST API.

A poll lists the active runs of the active experiments (`runs/search`, which carries each
run's latest value per metric) and fetches history only where that latest value changed,
from the last step already seen (`metrics/get-history-bulk-interval`, served from MLflow's
(run, key, step) index): its cost follows the new points, not the history. That endpoint
samples a range holding more than MAX_PER_CALL rows, so ranges are walked in windows that
narrow when a reply is full and widen when it is sparse; a single step holding more rows than
that (metrics logged without a step) falls back to `metrics/get-history` pages.

The standard library's urllib, with a timeout. Unreachable: one line saying since when,
retried every poll; back: one line saying so, and reading goes on where it stopped. Runs are
named `<experiment>/<run name>` as in the SQLite store; deleted runs are hidden (a run that
leaves the active list has its points dropped; restored, it is read again).
"""

from __future__ import annotations

import base64
import json
import math
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import numpy as np

from mlmon_tui.sources.base import Problem, ScalarBatch, Update
from mlmon_tui.sources.logs.mlflow_sqlite import DBL_MAX, param_value

KIND = "mlflow-server"
TIMEOUT = 5.0
MAX_PER_CALL = 2500  # the server's cap for get-history-bulk-interval (MAX_RESULTS_PER_RUN)
FIRST_WINDOW = 2000  # steps asked at once at first (fewer rows than MAX_PER_CALL: exact)
PAGE = 10_000  # rows per get-history page in the fallback
EXPERIMENTS_SECONDS = 5.0  # how often new or deleted experiments are looked for


class Unreachable(Exception):
    pass


def _value(v) -> float:
    """A metric value as JSON carries it ('NaN', 'Infinity' are strings), +-DBL_MAX as +-Inf."""
    x = float(v)
    if abs(x) >= DBL_MAX:
        return math.copysign(math.inf, x)
    return x


class MlflowServerSource:
    kind = KIND

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.path = self.url
        self.run = self.url
        self.timeout = timeout
        self.status = "connecting"
        self._down_since: float | None = None
        self._exp: dict[str, str] = {}  # id -> name (active experiments)
        self._exp_at = -math.inf
        self._runs: dict[str, str] = {}  # run id -> name shown (active runs)
        self._names: dict[str, str] = {}  # name shown -> run id
        self._params: dict[str, dict] = {}
        self._latest: dict[tuple[str, str], tuple] = {}  # (run, key) -> latest (step, ts, v)
        self._last: dict[tuple[str, str], tuple[int, Counter]] = {}  # last step, rows at it
        self._count: Counter = Counter()  # (run, key) -> rows read
        self.requests = 0

    def close(self) -> None:
        pass

    # -- HTTP ------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict | None = None, query=None) -> dict:
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        self.requests += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode("utf-8", "replace")
            raise RuntimeError(f"{method} {path}: HTTP {e.code} {detail}") from None
        except (urllib.error.URLError, OSError, socket.timeout) as e:
            reason = getattr(e, "reason", e)
            raise Unreachable(str(reason)) from None

    def _pages(self, path: str, body: dict, field: str):
        token = None
        while True:
            reply = self._call("POST", path, dict(body, **({"page_token": token} if token else {})))
            yield from reply.get(field, [])
            token = reply.get("next_page_token")
            if not token:
                return

    # -- the poll --------------------------------------------------------------------
    def poll(self) -> Update:
        up = Update()
        try:
            self._poll(up)
        except Unreachable as e:
            if self._down_since is None:
                self._down_since = time.time()
                when = time.strftime("%H:%M:%S", time.localtime(self._down_since))
                up.problems.append(Problem(self.url, f"MLflow server unreachable since {when} "
                                                     f"({e}); retrying", "error"))
            self.status = f"unreachable ({e}); retrying"
            return up
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            msg = f"MLflow server answered unexpectedly: {e}"
            up.problems.append(Problem(self.url, msg[:300]))
            self.status = msg[:120]
            return up
        if self._down_since is not None:
            gone = time.time() - self._down_since
            back = time.strftime("%H:%M:%S")
            up.problems.append(Problem(self.url, f"MLflow server reachable again at {back} "
                                                 f"(down {gone:.0f} s)"))
            self._down_since = None
        self.status = f"ok: {len(self._runs)} runs in {len(self._exp)} experiments"
        return up

    def _poll(self, up: Update) -> None:
        now = time.monotonic()
        if now - self._exp_at >= EXPERIMENTS_SECONDS:
            self._exp = {e["experiment_id"]: e.get("name", e["experiment_id"]) for e in self._pages(
                "/api/2.0/mlflow/experiments/search",
                {"max_results": 1000, "view_type": "ACTIVE_ONLY"}, "experiments")}
            self._exp_at = now
        if not self._exp:
            return
        runs = list(self._pages("/api/2.0/mlflow/runs/search", {
            "experiment_ids": sorted(self._exp), "run_view_type": "ACTIVE_ONLY",
            "max_results": 1000}, "runs"))
        active = {r["info"]["run_id"] for r in runs}
        for gone in [r for r in self._runs if r not in active]:
            up.resets.append(self._source(gone))  # deleted (or its experiment was)
            del self._runs[gone]
            for k in [k for k in self._latest if k[0] == gone]:
                self._latest.pop(k), self._last.pop(k, None), self._count.pop(k, None)
        for r in runs:
            self._run(r, up)

    def _run(self, r: dict, up: Update) -> None:
        info, data = r["info"], r.get("data", {})
        rid = info["run_id"]
        name = self._runs.get(rid)
        if name is None:
            name = self._runs[rid] = self._name(rid, info.get("run_name"), info["experiment_id"])
        params = {p["key"]: param_value(p.get("value", "")) for p in data.get("params", [])}
        if params and params != self._params.get(rid):
            self._params[rid] = params
            up.meta.setdefault(name, {})["hparams"] = params
        for m in data.get("metrics", []):
            key = m["key"]
            latest = (int(m.get("step", 0)), int(m.get("timestamp", 0)), str(m.get("value")))
            if self._latest.get((rid, key)) == latest:
                continue
            self._read(rid, key, latest[0], name, up)
            self._latest[(rid, key)] = latest

    def _name(self, rid: str, run_name: str | None, eid: str) -> str:
        shown = f"{self._exp.get(eid, eid)}/{run_name or rid}"
        if self._names.get(shown, rid) != rid:
            shown = f"{shown} ({rid[:8]})"
        self._names[shown] = rid
        return shown

    # -- history ---------------------------------------------------------------------
    def _read(self, rid: str, key: str, end: int, name: str, up: Update) -> None:
        """Every row of (rid, key) not read yet, up to step `end`."""
        last = self._last.get((rid, key))
        start = last[0] if last else 0
        rows = self._range(rid, key, start, end)
        if rows is None:  # one step holds more rows than a reply: page through instead
            rows = self._history(rid, key, self._count[(rid, key)])
        elif last:  # rows at the last step seen were read before: drop those again
            have = Counter(last[1])
            fresh = []
            for row in rows:
                if row[0] == last[0] and have[row[1:]] > 0:
                    have[row[1:]] -= 1
                else:
                    fresh.append(row)
            rows = fresh
        if not rows:
            return
        rows.sort(key=lambda x: (x[0], x[1]))
        top = rows[-1][0]
        at_top = Counter(r[1:] for r in rows if r[0] == top)
        if last and last[0] == top:
            at_top += last[1]
        self._last[(rid, key)] = (top, at_top)
        self._count[(rid, key)] += len(rows)
        step = np.array([x[0] for x in rows], dtype=np.int64)
        wall = np.array([x[1] for x in rows], dtype=np.float64) / 1000.0
        value = np.array([x[2] for x in rows], dtype=np.float64)
        up.scalars.append(ScalarBatch(name, key, step, wall, value, self._source(rid)))

    def _range(self, rid: str, key: str, start: int, end: int) -> list | None:
        out, s, width = [], start, FIRST_WINDOW
        while s <= end:
            e = min(s + width - 1, end)
            got = self._call("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
                             query={"run_ids": rid, "metric_key": key, "start_step": s,
                                    "end_step": e, "max_results": MAX_PER_CALL})
            rows = got.get("metrics", [])
            if len(rows) >= MAX_PER_CALL:  # possibly sampled: ask for less
                if e == s:
                    return None
                width = max(1, (e - s + 1) // 4)
                continue
            out.extend((int(m.get("step", 0)), int(m.get("timestamp", 0)), _value(m["value"]))
                       for m in rows)
            s = e + 1
            if len(rows) < MAX_PER_CALL // 5:
                width *= 4
        return out

    def _history(self, rid: str, key: str, offset: int) -> list:
        """Rows from the `offset`-th on, in the server's order (by timestamp). The page token
        is the server's own offset token (base64 JSON), as its replies carry it."""
        out, token = [], None
        if offset > 0:
            token = base64.b64encode(json.dumps({"offset": offset}).encode()).decode()
        while True:
            got = self._call("GET", "/api/2.0/mlflow/metrics/get-history",
                             query={"run_id": rid, "metric_key": key, "max_results": PAGE,
                                    **({"page_token": token} if token else {})})
            out.extend((int(m.get("step", 0)), int(m.get("timestamp", 0)), _value(m["value"]))
                       for m in got.get("metrics", []))
            token = got.get("next_page_token")
            if not token:
                return out

    def _source(self, rid: str) -> str:
        return f"{self.url}#{rid}"
