"""Push metrics from a training script to a running mlmon-tui. Standard library only.

    from mlmon_tui.client import Monitor

    with Monitor(run="resnet-lr3e-4", hparams={"lr": 3e-4}) as mon:
        for step in range(1000):
            ...
            mon.log(step, loss=loss.item(), lr=sched.get_last_lr()[0])

The run name is made safe for the monitor first (see `safe_run_name`): "a/b" makes nested
run directories; "..", absolute paths, backslashes and control characters are neutralised.

Where it sends (first that applies):
  1. the `address` argument, `unix:PATH` or `tcp:HOST:PORT`;
  2. the environment variable `MLMON_ADDRESS`;
  3. the log dir `MLMON_LOGDIR` (else the current directory): the address the monitor wrote
     to `<logdir>/.mlmon/address`, else `unix:<logdir>/.mlmon/mlmon.sock`.

What it promises the training loop:
  * `log()` only appends to a bounded in-memory queue (`buffer` messages, 10,000 by default);
    a daemon thread serialises and sends. `log()` never blocks and never raises for a network
    problem.
  * With no monitor listening, the thread retries with exponential backoff (0.1 s to 5 s)
    while messages wait in the queue. When the queue is full the oldest message is dropped
    and counted in `dropped`; the count is sent to the monitor (`{"type":"stats",...}`), which
    shows it.
  * With `spool=PATH` (or the environment variable `MLMON_SPOOL`), nothing is dropped for want
    of a monitor: whatever cannot be sent is appended to PATH as JSONL in the same layout the
    monitor writes (`{"step":..,"wall_time":..,"metrics":{..}}`), so putting PATH inside a run
    directory of a watched log dir makes the monitor read it like any JSONL log. Spooled
    messages are not re-sent when a monitor appears (no duplicates). Only a queue overflow
    (logging faster than the thread can write) still drops, and is counted.
  * A monitor that reads slowly makes the thread wait (up to 30 s per send, then it
    reconnects and counts the batch in flight as dropped); meanwhile messages pile up in
    the bounded queue, where the oldest are dropped and counted when it is full.
  * At interpreter exit the queue gets `exit_timeout` (0.5 s) to drain, then is abandoned.
  * Values are converted with `float()` on the sending thread (Python numbers, numpy
    scalars, 0-d tensors); pass detached values, not tensors that later change in place.

Predictions (`log_predictions`): the call takes a snapshot of its inputs and returns (a
torch tensor on a GPU is detached and copied to the CPU asynchronously: no wait for the
GPU); the sending thread then computes the metrics with `mlmon_tui.classmetrics` (imported
there, standard library only; numpy when importable) and sends the scalars as a metrics
message and the curves and confusion matrix as a classification message. At most
`MAX_PENDING_PREDICTIONS` evaluations wait in the queue; more are dropped and counted.
Predictions that cannot be scored (NaN scores, mismatched lengths, no data) log nothing for
that step: the reason is kept in `prediction_problems` and said once on stderr.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import socket
import sys
import threading
import time
import uuid
import weakref

__all__ = ["Monitor", "default_address", "safe_run_name"]

STATS_EVERY = 5.0
MAX_PENDING_PREDICTIONS = 4
RECONNECT_AFTER = 20.0  # seconds of scoring predictions after which the connection is renewed
SEND_TIMEOUT = 30.0  # a monitor that reads nothing for this long is taken as hung
_HELLO = object()


class _Later:
    """One `log_later` call waiting in the queue: `fn` gives its metrics and histograms."""

    __slots__ = ("step", "wall", "fn", "done")

    def __init__(self, step, wall, fn):
        self.step, self.wall, self.fn, self.done = step, wall, fn, None


class _Predictions:
    """One `log_predictions` call waiting in the queue (inputs already snapshotted)."""

    __slots__ = ("step", "wall", "split", "args", "lines")

    def __init__(self, step, wall, split, args):
        self.step, self.wall, self.split, self.args = step, wall, split, args
        self.lines: list[dict] | None = None  # computed once, on the sending thread
_live: "weakref.WeakSet[Monitor]" = weakref.WeakSet()


def safe_run_name(name: str) -> str:
    """`name` made acceptable to the monitor, which refuses names that could leave its log dir:
    backslashes and control characters become "_", empty, "." and ".." components are
    dropped, a leading "." of a component becomes "_", and at most 200 characters are kept."""
    name = "".join("_" if (c < " " or c in "\x7f\\") else c for c in str(name))
    parts = [p for p in name.split("/") if p not in ("", ".", "..")]
    parts = ["_" + p[1:] if p.startswith(".") else p for p in parts]
    name = "/".join(parts)[:200].rstrip("/")
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():  # a Windows drive
        name = name[0] + "_" + name[2:]
    return name or "run"


def default_address() -> str:
    """The address a `Monitor()` without one would use (see the module docstring)."""
    env = os.environ.get("MLMON_ADDRESS")
    if env:
        return env
    logdir = os.environ.get("MLMON_LOGDIR") or os.getcwd()
    mdir = os.path.join(os.path.abspath(logdir), ".mlmon")
    try:
        with open(os.path.join(mdir, "address"), encoding="utf-8") as f:
            addr = f.read().strip()
        if addr:
            return addr
    except OSError:
        pass
    return "unix:" + os.path.join(mdir, "mlmon.sock")


def _connect(address: str, timeout: float) -> socket.socket:
    if address.startswith("tcp:"):
        rest = address[4:]
        if rest.startswith("["):
            host, _, port = rest[1:].partition("]:")
        else:
            host, _, port = rest.rpartition(":")
        return socket.create_connection((host, int(port)), timeout=timeout)
    path = address[5:] if address.startswith("unix:") else address
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(path)
    except BaseException:
        s.close()
        raise
    return s


_HIST_KEY = "\x00histograms"  # a metrics key no caller can mean (run names refuse NUL)


class Monitor:
    """A connection to the monitor for one run. See the module docstring for the guarantees."""

    def __init__(self, run: str | None = None, address: str | None = None,
                 hparams: dict | None = None, spool: str | None = None, buffer: int = 10_000,
                 meta: dict | None = None, exit_timeout: float = 0.5):
        if run is None:
            script = os.path.splitext(os.path.basename(sys.argv[0] or "python"))[0] or "python"
            run = os.environ.get("MLMON_RUN") or f"{script}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.run = safe_run_name(run)
        self.address = address or default_address()
        self.spool = spool or os.environ.get("MLMON_SPOOL") or None
        self.hparams = dict(hparams or {})
        self.meta = dict(meta or {})
        self.exit_timeout = exit_timeout
        self._lost_in_log = 0  # counted by the training thread only (queue full, closed)
        self._lost_in_send = 0  # counted by the sending thread only
        self.spooled = 0
        self.sent = 0
        self.bad_values = 0
        self.prediction_problems: list[str] = []
        self._said: set[str] = set()
        self.connected = False
        self._client_id = uuid.uuid4().hex[:12]
        self._maxlen = buffer
        self._closed = False
        self._start_thread()
        _live.add(self)

    def _start_thread(self) -> None:
        self._q: collections.deque = collections.deque(maxlen=self._maxlen)
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._sock: socket.socket | None = None
        self._spool_file = None
        self._thread = threading.Thread(target=self._loop, name="mlmon-client", daemon=True)
        self._thread.start()

    # --- the training loop's side: cheap and never raising -----------------------------------
    def log(self, step: int, metrics: dict | None = None, /, **kw) -> None:
        """Queue `metrics` (a dict, or keyword arguments, or both) for `step`."""
        q = self._q
        if len(q) >= self._maxlen or self._closed:
            self._lost_in_log += 1
            if self._closed:
                return
        elif not q:
            q.append((step, time.time(), metrics, kw))
            self._wake.set()
            return
        q.append((step, time.time(), metrics, kw))

    def log_later(self, step: int, fn) -> None:
        """Queue a message for `step` whose content `fn()` computes on the sending thread,
        returning (metrics, histograms) as `log_histograms` takes them: work that can wait
        (reducing samples to statistics), off the training thread. `fn` must not touch
        anything the training goes on changing; if it raises, the message is dropped and
        counted in `bad_values`."""
        q = self._q
        if len(q) >= self._maxlen or self._closed:
            self._lost_in_log += 1
            return
        q.append(_Later(step, time.time(), fn))
        self._wake.set()

    def log_histograms(self, step: int, histograms: dict, metrics: dict | None = None) -> None:
        """Queue histograms for `step`: {tag: (edges, counts)} with len(edges) ==
        len(counts) + 1, as numpy.histogram returns them (lists or arrays), or edges given
        as (low, high) for equal-width buckets between them (sent as the message's `range`,
        shorter to encode and to send); `metrics`, if given, go in the same message."""
        self.log(step, metrics, **{_HIST_KEY: histograms})

    @property
    def dropped(self) -> int:
        """Messages lost: queue overflow, logged after close, or no monitor and no spool."""
        return self._lost_in_log + self._lost_in_send

    def _ensure_sender(self) -> None:
        """In a forked child, start a sender on first use (none survives fork())."""
        if self.__dict__.pop("log", None) is not None:  # back to the class's `log`
            self._start_thread()

    def _first_log_after_fork(self, step, metrics=None, /, **kw) -> None:
        self._ensure_sender()
        self.log(step, metrics, **kw)

    def log_predictions(self, step: int, y_true, y_score=None, split: str = "val",
                        labels=None, *, y_pred=None, threshold: float = 0.5,
                        logits: bool = False) -> None:
        """Queue one evaluation's predictions; the metrics are computed on the sending thread.

        Binary: `y_score` holds the positive class's probability per sample (its logit with
        `logits=True`); a sample is predicted positive at probability >= `threshold`. Several
        classes: `y_score` is an n x k matrix of probabilities (logits with `logits=True`,
        turned into probabilities by a softmax), or give `y_pred`, the predicted class per
        sample. `y_true` holds class indices 0..k-1 and `labels` optional class names.
        Lists, numpy arrays and torch tensors (CPU or GPU) are accepted.
        Logged at `step`: `<split>/accuracy`, `/precision`, `/recall`, `/f1`, `/roc_auc`,
        `/average_precision` (binary) or `/accuracy`, `/precision_macro`, `/recall_macro`,
        `/f1_macro`, `/roc_auc_macro`, `/f1/<label>` (several classes), plus the curves and
        the confusion matrix."""
        if self._closed:
            self._lost_in_log += 1
            return
        self._ensure_sender()
        try:
            from mlmon_tui.classmetrics import to_host  # standard library only, imports nothing

            args = dict(y_true=to_host(y_true), y_score=to_host(y_score),
                        y_pred=to_host(y_pred), threshold=float(threshold),
                        logits=bool(logits), labels=None if labels is None else list(labels))
        except Exception as e:  # never raise into the training loop
            self._prediction_problem(step, split, f"could not read the inputs: {e}")
            return
        q = self._q
        if sum(1 for it in q if isinstance(it, _Predictions)) >= MAX_PENDING_PREDICTIONS \
                or len(q) >= self._maxlen:
            self._lost_in_log += 1
            return
        q.append(_Predictions(step, time.time(), str(split) or "val", args))
        self._wake.set()

    def _prediction_problem(self, step, split, message: str) -> None:
        line = f"mlmon: log_predictions(step={step}, split={split!r}): {message}; nothing " \
               "logged for this step"
        self.prediction_problems.append(line)
        del self.prediction_problems[:-20]
        if line.split(":", 2)[-1] not in self._said:
            self._said.add(line.split(":", 2)[-1])
            try:
                print(line, file=sys.stderr)
            except Exception:
                pass

    def log_hparams(self, **hparams) -> None:
        self._ensure_sender()
        self.hparams.update(hparams)
        self._q.append(_HELLO)
        self._wake.set()

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until everything queued so far is sent or spooled; False on timeout."""
        self._ensure_sender()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._idle.clear()
            self._wake.set()
            if not self._q and self._idle.wait(max(0.0, deadline - time.monotonic())) \
                    and not self._q:
                return True
            time.sleep(0.005)
        return False

    def close(self, timeout: float = 1.0) -> None:
        """Send what is queued (waiting at most `timeout` seconds) and disconnect."""
        if self._closed:
            return
        self._closed = True
        if "log" in self.__dict__:  # a forked child that never logged: nothing to send
            _live.discard(self)
            return
        self._wake.set()
        self._thread.join(timeout)
        _live.discard(self)

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the sending thread ------------------------------------------------------------------
    def _loop(self) -> None:
        backoff, next_try, last_stats = 0.1, 0.0, 0.0
        while True:
            closing = self._closed
            try:
                now = time.monotonic()
                if self._sock is None and (now >= next_try or (closing and self._q)):
                    if self._try_connect():
                        backoff, last_stats = 0.1, 0.0
                    else:
                        next_try = now + backoff
                        backoff = min(backoff * 2, 5.0)
                if self._sock is not None:
                    self._send_queue()
                    if self._sock is not None and now - last_stats >= STATS_EVERY:
                        self._send_lines([self._stats_line()])
                        last_stats = now
                elif self.spool or closing:
                    self._spool_queue()
            except Exception:  # the training must never notice
                self._disconnect()
            if closing:
                if self._sock is not None:
                    self._send_lines([self._stats_line()])
                self._disconnect()
                if self._spool_file is not None:
                    self._spool_file.close()
                return
            if not self._q:
                self._idle.set()
            self._wake.wait(0.5 if self._sock is not None else min(backoff, 0.5))
            self._wake.clear()

    def _try_connect(self) -> bool:
        try:
            self._sock = _connect(self.address, timeout=1.0)
            # a busy monitor may take a while to read: the sending thread can wait, while
            # the training thread only ever touches the bounded queue
            self._sock.settimeout(SEND_TIMEOUT)
        except (OSError, ValueError):
            self._sock = None
            return False
        self.connected = True
        return self._send_lines([self._hello_line()])

    def _disconnect(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self.connected = False

    def _drain(self, limit: int = 512):
        q, items = self._q, []
        try:
            for _ in range(min(len(q), limit)):  # no IndexError to raise on an empty queue
                items.append(q.popleft())
        except IndexError:
            pass
        return items

    def _send_queue(self) -> None:
        while self._sock is not None:
            items = self._drain()
            if not items:
                return
            lines, t0 = [], time.monotonic()
            for it in items:
                if it is _HELLO:
                    lines.append(self._hello_line())
                elif isinstance(it, _Predictions):
                    lines += [json.dumps({"run": self.run, **m}, separators=(",", ":"))
                              + "\n" for m in self._prediction_lines(it)]
                else:
                    ln = self._metrics_line(it)
                    if ln:
                        lines.append(ln)
            n = sum(1 for it in items if it is not _HELLO)
            if time.monotonic() - t0 > RECONNECT_AFTER:
                # scoring many predictions took long: the monitor may have closed the
                # connection as idle meanwhile, and a write to it would vanish unseen
                self._disconnect()
                self._try_connect()
            if self._send_lines(lines):
                self.sent += n
            elif self.spool:
                self._spool_items(items)
            else:
                self._lost_in_send += n

    def _send_lines(self, lines: list[str]) -> bool:
        try:
            self._sock.sendall("".join(lines).encode("utf-8"))
            return True
        except (OSError, AttributeError):
            self._disconnect()
            return False

    def _spool_queue(self) -> None:
        items = self._drain(1 << 30)
        if self.spool:
            self._spool_items(items)
        else:
            self._lost_in_send += sum(1 for it in items if it is not _HELLO)

    def _spool_items(self, items) -> None:
        recs = []
        for it in items:
            if it is _HELLO:
                continue
            if isinstance(it, _Predictions):
                recs += [json.dumps({k: v for k, v in m.items() if k != "type"}) + "\n"
                         for m in self._prediction_lines(it)]
                continue
            m = self._metrics_dict(it)
            if m is not None:
                recs.append(json.dumps(self._record(m)) + "\n")
        n = len(recs)
        try:
            if self._spool_file is None:
                d = os.path.dirname(os.path.abspath(self.spool))
                os.makedirs(d, exist_ok=True)
                self._spool_file = open(self.spool, "a", encoding="utf-8")
            self._spool_file.write("".join(recs))
            self._spool_file.flush()
            self.spooled += n
        except OSError:
            self._lost_in_send += n

    # --- serialisation -----------------------------------------------------------------------
    def _computed(self, it: _Later):
        """A `log_later` item as a `log` item, its function run here (once: a failed send
        spools the same items); None if it raised."""
        if it.fn is not None:
            try:
                metrics, hists = it.fn()
                it.done = it.step, it.wall, metrics, {_HIST_KEY: hists} if hists else None
            except Exception:
                self.bad_values += 1
            it.fn = None  # what it held may be large: let it go
        return it.done

    def _metrics_dict(self, item):
        if type(item) is _Later:
            item = self._computed(item)
            if item is None:
                return None
        step, wall, metrics, kw = item
        out = {}
        if kw and _HIST_KEY in kw:
            kw = dict(kw)
            hists = self._histograms(kw.pop(_HIST_KEY))
            if hists:
                out[_HIST_KEY] = hists
        for src in (metrics, kw):
            if not src:
                continue
            try:
                pairs = src.items()
            except AttributeError:
                self.bad_values += 1
                continue
            for k, v in pairs:
                try:
                    out[str(k)] = float(v)
                except (TypeError, ValueError, RuntimeError, OverflowError):
                    self.bad_values += 1
        try:
            return int(step), wall, out
        except (TypeError, ValueError, OverflowError):
            self.bad_values += 1
            return None

    def _prediction_lines(self, it: _Predictions) -> list[dict]:
        """The metrics and classification messages of one evaluation (computed once)."""
        if it.lines is not None:
            return it.lines
        it.lines = []
        try:
            from mlmon_tui import classmetrics

            step = int(it.step)
            r = classmetrics.compute(**it.args)
        except Exception as e:  # PredictionError, or anything odd in the inputs
            self._prediction_problem(it.step, it.split, str(e).split("\n")[0])
            return it.lines
        finally:
            it.args = None  # the snapshot may be large: let it go
        sp = it.split
        scalars = {f"{sp}/{k}": v for k, v in r["scalars"].items()}
        cls = {"split": sp, "kind": r["kind"], "n": r["n"], "labels": r["labels"],
               "scalars": r["scalars"], "roc": r["roc"], "pr": r["pr"],
               "confusion": r["confusion"]}
        it.lines = [{"step": step, "wall_time": it.wall, "metrics": scalars},
                    {"type": "classification", "step": step, "wall_time": it.wall,
                     "classification": cls}]
        return it.lines

    def _histograms(self, hists) -> dict:
        out = {}
        try:
            for tag, (edges, counts) in hists.items():
                c = [v if type(v) is int else float(v) for v in counts]  # ints: short
                e = [float(v) for v in edges]
                out[str(tag)] = ({"range": e, "counts": c} if len(e) == 2 and len(c) > 1
                                 else {"edges": e, "counts": c})
        except (TypeError, ValueError, AttributeError, RuntimeError, OverflowError):
            self.bad_values += 1
        return out

    @staticmethod
    def _record(m) -> dict:
        metrics = dict(m[2])
        rec = {"step": m[0], "wall_time": m[1], "metrics": metrics}
        hists = metrics.pop(_HIST_KEY, None)
        if hists:
            rec["histograms"] = hists
        return rec

    def _metrics_line(self, item) -> str | None:
        m = self._metrics_dict(item)
        if m is None:
            return None
        return json.dumps({"run": self.run, **self._record(m)}, separators=(",", ":")) + "\n"

    def _hello_line(self) -> str:
        msg = {"type": "hello", "run": self.run, "pid": os.getpid(),
               "host": socket.gethostname(), "hparams": self.hparams, "meta": self.meta}
        try:
            return json.dumps(msg, default=str) + "\n"
        except (ValueError, TypeError):  # e.g. a circular structure
            msg["hparams"] = {str(k): repr(v) for k, v in self.hparams.items()}
            msg["meta"] = {str(k): repr(v) for k, v in self.meta.items()}
            return json.dumps(msg) + "\n"

    def _stats_line(self) -> str:
        return json.dumps({"type": "stats", "run": self.run, "pid": os.getpid(),
                           "client": self._client_id, "dropped": self.dropped,
                           "spooled": self.spooled}) + "\n"


def _after_fork_in_child() -> None:
    # The sending thread does not survive fork(): give each live monitor a fresh one.
    for mon in list(_live):
        if not mon._closed:
            mon._client_id = uuid.uuid4().hex[:12]
            mon._lost_in_log = mon._lost_in_send = mon.spooled = mon.sent = 0
            mon._q = collections.deque(maxlen=mon._maxlen)
            mon.log = mon._first_log_after_fork  # start a sender only if the child logs


def _at_exit() -> None:
    deadline = time.monotonic() + 0.5
    for mon in list(_live):
        mon.close(timeout=max(0.0, min(mon.exit_timeout, deadline - time.monotonic())))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
