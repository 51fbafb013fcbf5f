"""Weights & Biases run files (`wandb/run-<date>-<id>/run-<id>.wandb`, online or offline),
read incrementally without the wandb package.

A run is named by its display name (else its id), prefixed by the folder that holds the
`wandb/` directory when that is below the root. Every numeric history key is a tag (nested
keys joined with `/`); `_step` is the step, `_timestamp` the wall time; `_runtime` and W&B's
own `_wandb` keys are not charts. NaN and Infinity are kept. The config goes to the run's
`hparams` (flattened with `/`, `_wandb` dropped), the latest numeric summary to `summary`,
the exit code to `exit_code`. A resumed run (a second file with the same id) feeds the same
run. `wandb.Histogram` values (what `wandb.watch` logs as `gradients/...`) are histograms.
Each poll reads only the bytes added since the last one (`wandb_stream`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import numpy as np

from mlmon_tui.sources.base import HistogramPoint, ScalarBatch, Update, read_once
from mlmon_tui.sources.logs import wandb_stream as ws
from mlmon_tui.sources.logs.binfile import BinaryTail

KIND = "wandb"
CHUNK = 8 << 20  # bytes read at once; grows for a single larger record
PEEK = 64 << 10  # bytes read at open to find the run record (the run's name)
HIDDEN = {"_step", "_timestamp", "_runtime"}
RUN_FILE = re.compile(r"^run-(?P<id>[^.]+)\.wandb$")
RUN_DIR = re.compile(r"^(offline-)?run-\d{8}_\d{6}-(?P<id>.+)$")

# (scope, display name) -> run id that took the name first; a second run id with the same
# display name in the same scope is shown as "name (id)"
_claims: dict[tuple[str, str], str] = {}
_claims_lock = threading.Lock()


def probe(path: Path, head: bytes) -> int:
    if Path(path).suffix == ".wandb":
        return 100 if (not head or ws.header_ok(head)) else 0
    return 60 if ws.header_ok(head) else 0


def open_source(path: Path, root: Path) -> WandbSource:
    return WandbSource(path, root)


def read_all(path: str | Path) -> Update:
    """Everything in one file, as one update."""
    return read_once(WandbSource(Path(path), Path(path).parent))


def scope(path: Path, root: Path) -> str:
    """The folder above the run's `wandb/` directory, relative to the root ('' at the root)."""
    run_dir = path.parent
    base = run_dir.parent if RUN_DIR.match(run_dir.name) else run_dir
    if base.name == "wandb":
        base = base.parent
    try:
        rel = base.relative_to(root).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else rel


def flat_config(conf: dict, prefix: str = "", out: dict | None = None) -> dict:
    """Config values flattened with `/`, without W&B's `_wandb` internals; a config.yaml
    style `{"value": v, "desc": ...}` entry gives v."""
    if out is None:
        out = {}
    for k, v in conf.items():
        if not prefix and k == "_wandb":
            continue
        if isinstance(v, dict) and set(v) <= {"value", "desc"} and "value" in v:
            v = v["value"]
        if isinstance(v, dict):
            flat_config(v, f"{prefix}{k}/", out)
        else:
            out[prefix + k] = v
    return out


class WandbSource(BinaryTail):
    kind = KIND

    def __init__(self, path: Path, root: Path) -> None:
        self._path = Path(path)
        self.path = str(path)
        self._scope = scope(self._path, Path(root))
        m = RUN_FILE.match(self._path.name) or RUN_DIR.match(self._path.parent.name)
        self._id = m.group("id") if m else self._path.stem
        self._display = ""
        self.run = self._name()
        self._init_tail()
        self._start()
        self._peek()

    # -- naming --------------------------------------------------------------------------
    def _name(self) -> str:
        display = self._display or self._id
        key = (self._scope, display)
        with _claims_lock:
            owner = _claims.setdefault(key, self._id)
        name = display if owner == self._id else f"{display} ({self._id})"
        return f"{self._scope}/{name}" if self._scope else name

    def _peek(self) -> None:
        """Name the run from its run record before any point is read."""
        try:
            with open(self._path, "rb") as f:
                buf = f.read(PEEK)
        except OSError:
            return
        if not ws.header_ok(buf):
            return
        records, _ = ws.Deframer().feed(buf[ws.HEADER :], ws.HEADER)
        for rec in records:
            kind, body = ws.record_type(rec)
            if kind == ws.R_RUN:
                self._named(ws.run(body))
                return

    def _named(self, info: dict) -> None:
        if info.get("id"):
            self._id = info["id"]
        self._display = info.get("name") or self._display
        self.run = self._name()

    # -- reading -------------------------------------------------------------------------
    def _start(self) -> None:
        self._offset = 0
        self._deframer = ws.Deframer()
        self._stopped = False
        self._reported_bad = 0
        self._last_step = -1
        self._last_wall = 0.0
        self._hparams: dict = {}
        self._summary: dict = {}
        self._names: dict[bytes, str] = {}  # item key bytes -> tag (see numeric_items)

    def poll(self) -> Update:
        up = Update()
        st = self._open(up)
        if st is None:
            return up
        size = st.st_size
        if self._stopped or size <= self._offset or size < ws.HEADER:
            return up
        self._mtime = st.st_mtime
        acc = _Rows()
        try:
            self._read(size, up, acc)
        except OSError as exc:  # a network file system hiccup: try again next poll
            self._say(up, f"read error: {exc.strerror or exc}")
        bad = self._deframer.bad[self._reported_bad :]
        if bad:
            self._reported_bad = len(self._deframer.bad)
            what = f"{len(bad)} corrupt fragments, the first" if len(bad) > 1 else "a corrupt fragment"
            self._say(up, f"skipped {what} at byte {bad[0]} (checksum or framing)")
        acc.emit(self, up)
        return up

    def _read(self, size: int, up: Update, acc: _Rows) -> None:
        if self._offset == 0:
            head = os.pread(self._fd, ws.HEADER, 0)
            if not ws.header_ok(head):
                self._stopped = True
                self._say(up, "not a W&B run file (no `:W&B` header)", "error")
                return
            self._offset = ws.HEADER
        chunk = CHUNK
        while self._offset < size:
            want = min(size - self._offset, chunk)
            buf = os.pread(self._fd, want, self._offset)
            records, used = self._deframer.feed(buf, self._offset)
            self._offset += used
            for rec in records:
                self._record(rec, up, acc)
            if used == 0:
                if want < chunk or len(buf) < want:
                    return  # a record still being written: read it next poll
                chunk *= 4  # one record larger than the chunk

    def _record(self, rec: bytes, up: Update, acc: _Rows) -> None:
        try:
            kind, body = ws.record_type(rec)
            if kind == ws.R_HISTORY:
                self._history(body, acc)
            elif kind == ws.R_RUN:
                info = ws.run(body)
                if not self._display and info.get("name") and not acc.tags:
                    self._named(info)
                if info.get("config"):
                    self._config(info["config"], up)
            elif kind == ws.R_CONFIG:
                self._config(ws.config(body), up)
            elif kind == ws.R_SUMMARY:
                acc.summary.append(body)
            elif kind == ws.R_EXIT:
                up.meta.setdefault(self.run, {})["exit_code"] = ws.exit_code(body)
        except (ValueError, IndexError):
            self._say(up, "skipped an undecodable record")

    def _config(self, conf: dict, up: Update) -> None:
        self._hparams.update(flat_config(conf))
        up.meta.setdefault(self.run, {})["hparams"] = dict(self._hparams)

    def _history(self, body: bytes, acc: _Rows) -> None:
        objects: list = []
        values, step_num = ws.numeric_items(body, self._names, objects)
        step = wall = None
        for name, v in values:
            if name == "_step":
                step = v
            elif name == "_timestamp":
                wall = v
        if step is None or step != step:
            step = step_num if step_num is not None else self._last_step + 1
        step = int(step)
        if wall is None:
            wall = self._last_wall or self._mtime
        self._last_step, self._last_wall = step, wall
        for name, v in values:
            if name in HIDDEN or name.startswith("_wandb"):
                continue
            acc.add(name, step, wall, v)
        if objects:
            for name, h in histograms(objects):
                acc.hists.append(HistogramPoint(self.run, name, step, wall, source=self.path, **h))


def histograms(objects: list[tuple[str, bytes]]):
    """`wandb.Histogram`s of one row, as (tag, HistogramPoint fields). wandb 0.31 writes one
    as three items (`<tag>/_type` = "histogram", `<tag>/values`, `<tag>/bins`), older
    versions as one JSON object {"_type": "histogram", "values": counts, "bins": edges}."""
    by_name = dict(objects)
    for name, text in objects:
        obj = None
        if text == b'"histogram"' and name.endswith("/_type"):
            tag = name[:-6]
            try:
                obj = {"values": json.loads(by_name[tag + "/values"]),
                       "bins": json.loads(by_name[tag + "/bins"])}
            except (KeyError, ValueError):
                continue
        elif text[:1] == b"{" and b'"histogram"' in text[:64]:
            tag = name
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if not isinstance(obj, dict) or obj.get("_type") != "histogram":
                continue
        if obj is not None:
            h = _histogram(obj.get("values"), obj.get("bins"))
            if h is not None:
                yield tag, h


def _histogram(values, bins) -> dict | None:
    """HistogramPoint fields from counts and bin edges (sums from bin midpoints, as for TF2's
    histogram tensors)."""
    try:
        count = np.asarray(values, dtype=np.float64)
        edges = np.asarray(bins, dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if count.ndim != 1 or edges.shape != (len(count) + 1,):
        return None
    mid = (edges[:-1] + edges[1:]) / 2
    return {"min": float(edges[0]), "max": float(edges[-1]), "num": float(count.sum()),
            "sum": float((count * mid).sum()), "sum_squares": float((count * mid * mid).sum()),
            "bucket_limit": edges[1:].copy(), "bucket": count}


class _Rows:
    """Points of one poll, column by column per tag."""

    __slots__ = ("tags", "summary", "hists")

    def __init__(self) -> None:
        self.tags: dict[str, tuple[list, list, list]] = {}
        self.hists: list[HistogramPoint] = []
        self.summary: list[bytes] = []

    def add(self, tag: str, step: int, wall: float, value: float) -> None:
        cols = self.tags.get(tag)
        if cols is None:
            cols = self.tags[tag] = ([], [], [])
        cols[0].append(step)
        cols[1].append(wall)
        cols[2].append(value)

    def emit(self, src: WandbSource, up: Update) -> None:
        up.histograms.extend(self.hists)
        for tag, (steps, walls, values) in self.tags.items():
            up.scalars.append(ScalarBatch(
                src.run, tag, np.array(steps, dtype=np.int64), np.array(walls, dtype=np.float64),
                np.array(values, dtype=np.float64), source=src.path))
        before = dict(src._summary)
        for body in self.summary:
            for name, v in ws.numeric_items(body, src._names)[0]:
                if name not in HIDDEN and not name.startswith("_wandb"):
                    src._summary[name] = v
        if src._summary != before:
            up.meta.setdefault(src.run, {})["summary"] = dict(src._summary)
