"""The socket protocol: how a training script pushes metrics to a running monitor.

Transport
    A Unix stream socket (default) or loopback TCP. Addresses are written `unix:PATH` or
    `tcp:HOST:PORT` (`tcp:[::1]:PORT` for IPv6). The default is `unix:<logdir>/.mlmon/mlmon.sock`:
    the `.mlmon` directory is created with mode 0700 and the socket file gets mode 0600, so
    only the user running the monitor can connect. Unix socket paths are limited to 107 bytes;
    when `<logdir>/.mlmon/mlmon.sock` is longer, the socket goes to
    `$XDG_RUNTIME_DIR/mlmon-<hash>/mlmon.sock` (or `/tmp/mlmon-<uid>-<hash>/mlmon.sock` where
    that is unset or also too long; `<hash>` is the first 12 hex digits of the SHA-1 of the
    log dir's real path), again in a 0700 directory. Either way the address in use is written
    to `<logdir>/.mlmon/address`, which the client reads. Binding TCP on anything but a
    loopback address is refused unless explicitly allowed (and then logged as a warning).

Messages
    Newline-delimited JSON objects, UTF-8, one per line, at most 1 MiB per line (a longer
    line is discarded up to its newline). A connection silent for 60 s is closed (the
    client sends a stats line every 5 s, and reconnects when needed).

    {"type":"hello","run":"name","pid":123,"host":"box","hparams":{...},"meta":{...}}
        Optional. Names the connection's default run and records hyper-parameters.
    {"run":"name","step":10,"metrics":{"loss":0.5,"grad_norm":1.2},"wall_time":1700000000.0}
        `type` defaults to "metrics". `step` is an integer (an integral float is accepted).
        `wall_time` (Unix seconds) is optional: the server's receive time is used without it.
        `run` is optional after a hello (the hello's run is used).
    {"type":"classification","run":"name","step":10,"wall_time":..,"classification":{...}}
        One evaluation's curves and confusion matrix (sent by `Monitor.log_predictions`
        beside an ordinary metrics message holding its scalars); the object's layout is
        `records.classification`'s JSON form. Written to the run's JSONL as
        `{"step":10,"wall_time":..,"classification":{...}}`; invalid ones are counted under
        `bad_messages`.
    {"run":"name","step":10,"metrics":{},"histograms":{"act/fc1":{"edges":[...],"counts":[...]}}}
        Optional `histograms` (since 0.2; older servers ignore it): per tag, `counts[i]`
        values fell in [edges[i], edges[i+1]] (numpy.histogram's layout; at most 1024 buckets,
        finite, edges ascending). `"range":[low,high]` in place of `edges` means equal-width
        buckets between them. A bad histogram is dropped and counted as a bad value.
    {"type":"stats","run":"name","pid":123,"client":"3f9a0c","dropped":4,"spooled":0}
        Sent by the client every 5 s and at close: its cumulative count of messages it had
        to drop. `client` (a random id per client object) lets the server add up counters
        from one client across reconnections without counting them twice.

    Metric values must be numbers. `null` and the strings "NaN", "Infinity", "-Infinity"
    (any case, also "nan"/"inf"/"-inf") and JSON's non-standard NaN/Infinity tokens read as
    NaN / +-Inf. Any other value (strings, booleans, lists, objects) is dropped and counted
    as a bad value; the message's other metrics are kept.

Run names (they become directories under the log dir)
    A name is one or more components separated by "/". It is rejected (and the message
    counted under `bad_run_names`, nothing written) when it is empty or longer than 200
    characters; contains a NUL, a control character, a backslash or a lone surrogate (not
    encodable as UTF-8); starts with "/" or a
    Windows drive letter ("C:"); or has a component that is empty or starts with "." (which
    rules out "." and ".." and hidden directories such as `.mlmon`). As a last guard the
    resolved real path of the run directory must lie inside the log dir's real path (a
    symlink inside the log dir cannot lead writes outside it), and files are opened with
    O_NOFOLLOW.

What the server writes
    `<logdir>/<run>/mlmon-socket.jsonl`: one line per metrics message,
    `{"step": 10, "wall_time": 1700000000.0, "metrics": {"loss": 0.5}}` (NaN and infinities
    are written as JSON's NaN / Infinity / -Infinity tokens, which Python's json reads).
    `<logdir>/<run>/mlmon-socket-meta.json`: the latest hello (hparams, meta, host, pids) and
    the client's drop counter, rewritten atomically.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import os
import re
from pathlib import Path

MAX_LINE = 1 << 20
MAX_RUN_NAME = 200
MAX_TAG = 256
UNIX_PATH_MAX = 107
SOCKET_DIR = ".mlmon"
SOCKET_NAME = "mlmon.sock"
ADDRESS_FILE = "address"
DATA_FILE = "mlmon-socket.jsonl"
META_FILE = "mlmon-socket-meta.json"

_SPECIAL = {"nan": math.nan, "+nan": math.nan, "-nan": math.nan, "infinity": math.inf,
            "+infinity": math.inf, "inf": math.inf, "+inf": math.inf,
            "-infinity": -math.inf, "-inf": -math.inf}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_DRIVE = re.compile(r"^[A-Za-z]:")


class ProtocolError(ValueError):
    """A message that is valid JSON but not a valid message; `counter` names the stat."""

    def __init__(self, counter: str, message: str):
        super().__init__(message)
        self.counter = counter


def check_run_name(name: object) -> str | None:
    """The run name if it is safe to use as a relative directory, else None (rule above)."""
    if not isinstance(name, str) or not name or len(name) > MAX_RUN_NAME:
        return None
    if _CONTROL.search(name) or name.startswith("/") or _DRIVE.match(name):
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape
        return None
    for part in name.split("/"):
        if not part or part.startswith("."):
            return None
    return name


def run_dir(root_real: str, name: str) -> str | None:
    """The run's directory under `root_real` (an already resolved real path), or None if it
    would resolve outside it (through a symlink)."""
    path = os.path.join(root_real, *name.split("/"))
    real = os.path.realpath(path)
    if not real.startswith(root_real.rstrip(os.sep) + os.sep):
        return None
    return real


def to_value(v: object) -> float | None:
    """A metric value as float, or None if it is not a number (bool is not a number)."""
    if v is None:
        return math.nan
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        try:
            return float(v)
        except OverflowError:
            return math.inf if v > 0 else -math.inf
    if isinstance(v, str):
        return _SPECIAL.get(v.strip().lower())
    return None


def parse_metrics(obj: dict, default_run: str | None, now: float):
    """Validate a metrics message. Returns (run, step, wall, metrics, n_bad_values).
    Raises ProtocolError for a message that cannot be used at all."""
    run = obj.get("run", default_run)
    if run is None:
        run = default_run or "socket"
    if check_run_name(run) is None:
        raise ProtocolError("bad_run_names", f"unsafe run name {str(run)[:80]!r}")
    step = obj.get("step")
    if isinstance(step, bool) or not isinstance(step, (int, float)):
        raise ProtocolError("bad_messages", "step missing or not a number")
    if isinstance(step, float):
        if not step.is_integer():
            raise ProtocolError("bad_messages", "step is not an integer")
        step = int(step)
    metrics = obj.get("metrics")
    if not isinstance(metrics, dict):
        raise ProtocolError("bad_messages", "metrics missing or not an object")
    bad = 0
    wall = obj.get("wall_time")
    if wall is None:
        wall = now
    else:
        w = to_value(wall)
        if w is None or not math.isfinite(w):
            bad += 1
            wall = now
        else:
            wall = w
    clean = {}
    for k, v in metrics.items():
        f = to_value(v)
        if f is None or not k or len(k) > MAX_TAG:
            bad += 1
            continue
        clean[k] = f
    return run, step, wall, clean, bad


def parse_classification(obj: dict, default_run: str | None, now: float):
    """Validate a classification message. Returns (run, step, wall, classification object).
    Raises ProtocolError when it cannot be used."""
    from mlmon_tui.records.classification import from_json

    run, step, wall, _, _ = parse_metrics({**obj, "metrics": {}}, default_run, now)
    c = obj.get("classification")
    try:
        from_json(c, run, step, wall)
    except (ValueError, TypeError) as e:
        raise ProtocolError("bad_messages", str(e)) from None
    return run, step, wall, c


def encode_classification(step: int, wall: float, c: dict) -> str:
    return json.dumps({"step": step, "wall_time": wall, "classification": c},
                      separators=(",", ":")) + "\n"


MAX_BUCKETS = 1024


def parse_histogram(h: object) -> dict | None:
    """{"edges": [k+1 ascending finite numbers], "counts": [k >= 0 numbers]} or None; a
    `range` [low, high] in place of `edges` gives k equal-width buckets."""
    if not isinstance(h, dict):
        return None
    edges, counts = h.get("edges"), h.get("counts")
    if edges is None and "range" in h:
        edges = _uniform_edges(h["range"], counts)
    if not isinstance(edges, list) or not isinstance(counts, list):
        return None
    if not 1 <= len(counts) <= MAX_BUCKETS or len(edges) != len(counts) + 1:
        return None
    e = [to_value(v) for v in edges]
    c = [to_value(v) for v in counts]
    if any(v is None or not math.isfinite(v) for v in e + c) or any(v < 0 for v in c):
        return None
    if any(b < a for a, b in zip(e, e[1:])):
        return None
    return {"edges": e, "counts": c}


def _uniform_edges(rng: object, counts: object) -> list | None:
    if not (isinstance(rng, list) and len(rng) == 2 and isinstance(counts, list) and counts):
        return None
    lo, hi = to_value(rng[0]), to_value(rng[1])
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    k = len(counts)
    return [lo + (hi - lo) * i / k for i in range(k)] + [hi]


def parse_histograms(obj: dict) -> tuple[dict, int]:
    """The message's valid histograms by tag, and how many were bad."""
    hs = obj.get("histograms")
    if hs is None:
        return {}, 0
    if not isinstance(hs, dict):
        return {}, 1
    out, bad = {}, 0
    for tag, h in hs.items():
        ok = parse_histogram(h)
        if ok is None or not tag or len(tag) > MAX_TAG:
            bad += 1
        else:
            out[tag] = ok
    return out, bad


def encode_record(step: int, wall: float, metrics: dict, histograms: dict | None = None) -> str:
    rec = {"step": step, "wall_time": wall, "metrics": metrics}
    if histograms:
        rec["histograms"] = histograms
    return json.dumps(rec, separators=(",", ":")) + "\n"


# --- addresses -------------------------------------------------------------------------------

def _hash(logdir: Path) -> str:
    return hashlib.sha1(os.fsencode(os.path.realpath(logdir))).hexdigest()[:12]


def default_unix_path(logdir: Path) -> Path:
    """Where the socket goes for `logdir` (see the module docstring for the fallback rule)."""
    path = Path(logdir).absolute() / SOCKET_DIR / SOCKET_NAME
    if len(os.fsencode(str(path))) <= UNIX_PATH_MAX:
        return path
    h = _hash(logdir)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        p = Path(xdg) / f"mlmon-{h}" / SOCKET_NAME
        if len(os.fsencode(str(p))) <= UNIX_PATH_MAX:
            return p
    return Path("/tmp") / f"mlmon-{os.getuid()}-{h}" / SOCKET_NAME


def parse_address(address: str) -> tuple[str, object]:
    """`unix:PATH` -> ("unix", Path); `tcp:HOST:PORT` -> ("tcp", (host, port)).
    A bare string containing "/" is taken as a Unix socket path."""
    if address.startswith("unix:"):
        return "unix", Path(address[5:])
    if address.startswith("tcp:"):
        rest = address[4:]
        if rest.startswith("["):
            host, _, port = rest[1:].partition("]:")
        else:
            host, _, port = rest.rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"bad TCP address {address!r}: expected tcp:HOST:PORT")
        return "tcp", (host, int(port))
    if "/" in address:
        return "unix", Path(address)
    raise ValueError(f"bad address {address!r}: expected unix:PATH or tcp:HOST:PORT")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
