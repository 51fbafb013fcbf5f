"""JSON lines metric logs: one object per line (`.jsonl`, `.ndjson`, Ray Tune's `result.json`,
JSON-lines `.log` files, and what the socket server spools).

Step: the first of `keys.STEP_KEYS` present (else the line number); wall time: the first of
`keys.TIME_KEYS` holding a Unix time (else the file's mtime when read). Nested objects are
flattened with `/`, except a `metrics` object, whose keys are tags as they are
(`{"step": 1, "metrics": {"loss": 2}}` -> `loss`). A `run` key is not a metric, Ray's
`config` object goes to the run's hyper-parameters, and booleans, strings, lists and nulls
are skipped. `NaN`/`Infinity` tokens are points like any other. A `classification` object
(curves and confusion matrix of one evaluation, as `Monitor.log_predictions` sends them; see
`records.classification`) becomes a classification record, not scalars.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlmon_tui.records import classification as rc
from mlmon_tui.sources.logs import keys
from mlmon_tui.sources.base import HistogramPoint, ScalarBatch, Update
from mlmon_tui.sources.logs.textfile import TextSource
from mlmon_tui.sources.socket.protocol import parse_histogram

LINES_SUFFIXES = {".jsonl", ".ndjson"}
MAYBE_SUFFIXES = {".json", ".log"}
NOT_METRICS = {"run", "config", "classification", "histograms"}
LIVE_STEP_KEYS = set(keys.STEP_KEYS) - {"epoch"}  # one line with one of these: a log begun
MAX_CHUNKS_PER_POLL = 8
# JSON files that are one document, never a metric stream.
NOT_LINES = {
    "trainer_state.json", "all_results.json", "train_results.json", "eval_results.json",
    "test_results.json", "predict_results.json", "params.json", "config.json",
    "package.json", "tsconfig.json",
}


# A row with a level and a message is a log record (W&B's debug-internal.log, structlog,
# JSON logging handlers), not metrics by step: such files are skipped, such rows dropped.
LOG_LEVEL_KEYS = frozenset({"level", "levelname", "severity", "lvl", "log.level"})
LOG_MSG_KEYS = frozenset({"msg", "message", "event"})


def log_record(obj: dict) -> bool:
    return not LOG_LEVEL_KEYS.isdisjoint(obj) and not LOG_MSG_KEYS.isdisjoint(obj)


def _object(line: bytes) -> dict | None:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def probe(path: Path, head: bytes) -> int:
    name = path.name.lower()
    suffix = path.suffix.lower()
    if suffix not in LINES_SUFFIXES and suffix not in MAYBE_SUFFIXES:
        return 0
    if name in NOT_LINES or name.startswith("wandb-") or b"\x00" in head:
        return 0
    lines = [ln for ln in head.split(b"\n") if ln.strip()]
    complete = lines if head.endswith(b"\n") else lines[:-1]
    objs = [_object(ln) for ln in complete[:8]]
    if objs and sum(1 for o in objs if o is not None and log_record(o)) * 2 > len(objs):
        return 0  # a JSON log of messages, not metrics
    if suffix in LINES_SUFFIXES:
        if not lines:
            return 40  # empty for now: a live log about to be written
        if complete and objs[0] is None:
            return 0
        return 50
    # .json / .log: only when the content is plainly JSON lines of metric objects
    if name == "result.json" and not complete and head.startswith(b'{"'):
        return 45  # Ray Tune: lines longer than the head
    if not objs or any(o is None for o in objs):
        return 0
    if len(objs) < 2 and name != "result.json" and not set(objs[0]) & LIVE_STEP_KEYS:
        return 0  # one object alone is a JSON document (a summary, a config), not a log
    if not any(type(v) in (int, float) for o in objs for v in _flat(o).values()):
        return 0
    return 45


def _flat(obj: dict, prefix: str = "", out: dict | None = None) -> dict:
    """Numeric leaves of `obj` as {tag: number}; a `metrics` object adds no prefix."""
    if out is None:
        out = {}
    for k, v in obj.items():
        t = type(v)
        if t is float or t is int:
            out[prefix + k] = v
        elif t is dict:
            if not prefix and k in NOT_METRICS:
                continue
            _flat(v, prefix if (k == "metrics" and not prefix) else f"{prefix}{k}/", out)
    if not prefix:
        out.pop("run", None)
    return out


def _hparams(obj: dict, prefix: str = "") -> dict:
    """Scalar leaves (numbers, strings, booleans, nulls) of a config object, flattened."""
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(_hparams(v, f"{prefix}{k}/"))
        elif not isinstance(v, list):
            out[prefix + k] = v
    return out


class JsonlSource(TextSource):
    kind = "jsonl"

    def __init__(self, path: Path, root: Path):
        super().__init__(path, root)
        self._bad_said = False
        self._reset_state()

    def _reset_state(self) -> None:
        self._lines = 0
        self._last_step = 0
        self._time_key: str | None = None
        self._time_scale = 0.0
        self._hparams_done = False

    def poll(self) -> Update:
        update = Update()
        for _ in range(MAX_CHUNKS_PER_POLL):
            chunk = self._tail.poll()
            if chunk.problem:
                self._problem(update, chunk.problem)
            if chunk.reset:
                update.resets.append(self.path)
                update.scalars.clear()
                update.classifications.clear()
                self._reset_state()
            if chunk.data:
                self._parse(chunk.data, chunk.mtime, update)
            if not chunk.more:
                break
        return update

    def _records(self, data: bytes, update: Update) -> list:
        lines = [ln for ln in data.split(b"\n") if ln.strip()]
        try:  # one parse for the whole block: far less per-line overhead
            recs = json.loads(b"[" + b",".join(lines) + b"]")
            if len(recs) == len(lines) and all(type(r) is dict for r in recs):
                return recs
        except (ValueError, RecursionError):
            pass
        recs = []
        for i, ln in enumerate(lines):
            obj = _object(ln)
            if obj is None and not self._bad_said:
                self._bad_said = True
                self._problem(
                    update, f"line {self._lines + i + 1} is not a JSON object: skipped "
                    "(later bad lines are skipped without a message)",
                )
            recs.append(obj)
        return recs

    def _parse(self, data: bytes, mtime: float, update: Update) -> None:
        recs = self._records(data, update)
        n = len(recs)
        rows = [i for i, r in enumerate(recs) if r is not None and not log_record(r)]
        if len(rows) < n:
            recs = [recs[i] for i in rows]
        if not self._hparams_done:
            conf = next((r["config"] for r in recs if type(r.get("config")) is dict), None)
            if conf is not None:
                self._hparams_done = True
                update.meta.setdefault(self.run, {})["hparams"] = _hparams(conf)
        hists = [(i, r["histograms"]) for i, r in enumerate(recs)
                 if type(r.get("histograms")) is dict]
        cols: dict[str, list] = {}
        if recs:
            _collect(recs, rows, "", cols)
        step_tag = next((k for k in keys.STEP_KEYS if k in cols), None)
        if step_tag is None:
            steps = np.arange(self._lines, self._lines + n, dtype=np.int64)
            last = self._lines + n - 1 if n else self._last_step
        else:
            col = np.full(n, np.nan)
            for idx, vals in cols.pop(step_tag):
                col[idx] = vals
            steps, last = keys.steps_from(col, self._last_step)
        walls = np.full(n, float(mtime))
        if self._time_key is None:
            tk = next((k for k in keys.TIME_KEYS if k in cols), None)
            if tk is not None:
                scale = keys.wall_scale(float(cols[tk][0][1][0]))
                if scale:
                    self._time_key, self._time_scale = tk, scale
        if self._time_key in cols:
            for idx, vals in cols.pop(self._time_key):
                walls[idx] = np.asarray(vals, dtype=np.float64) * self._time_scale
        self._lines += n
        self._last_step = last
        if any(type(r.get("classification")) is dict for r in recs):
            self._classifications(recs, rows, steps, walls, update)
        for i, hs in hists:
            for tag, h in hs.items():
                point = _histogram(self.run, tag, int(steps[i]), float(walls[i]), h, self.path)
                if point is not None:
                    update.histograms.append(point)
        for tag, parts in cols.items():
            if len(parts) == 1:
                idx, vals = parts[0]
            else:
                idx = [i for p in parts for i in p[0]]
                vals = [v for p in parts for v in p[1]]
            ix = np.asarray(idx, dtype=np.intp)
            value = np.asarray(vals, dtype=np.float64)
            update.scalars.append(ScalarBatch(self.run, tag, steps[ix], walls[ix], value, self.path))

    def _classifications(self, recs, rows, steps, walls, update: Update) -> None:
        for i, r in zip(rows, recs):
            c = r.get("classification")
            if type(c) is not dict:
                continue
            try:
                point = rc.from_json(c, self.run, int(steps[i]), float(walls[i]), self.path)
            except (ValueError, TypeError) as e:
                self._problem(update, f"line {self._lines - len(steps) + i + 1}: {e}")
                continue
            update.classifications.append(point)


_NUMERIC = {int, float}


def _histogram(run: str, tag: str, step: int, wall: float, h, path: str):
    """A socket histogram ({"edges", "counts"}) as a HistogramPoint of (left, right, count)
    rows; None when it does not hold together."""
    ok = parse_histogram(h)
    if ok is None:
        return None
    e, c = np.asarray(ok["edges"]), np.asarray(ok["counts"])
    mid = (e[:-1] + e[1:]) / 2
    return HistogramPoint(run, tag, step, wall, float(e[0]), float(e[-1]), float(c.sum()),
                          float((c * mid).sum()), float((c * mid * mid).sum()), e[1:].copy(), c,
                          source=path, layout="rows")


def _collect(recs: list, rows: list, prefix: str, out: dict[str, list]) -> None:
    """Numeric leaves of `recs` (dicts; `rows` their line indices) column by column into
    `out[tag] = [(rows, values), ...]`. Records with the same keys (the usual case) go a
    column at a time; others one by one."""
    keys0 = recs[0].keys()
    if not all(r.keys() == keys0 for r in recs):
        for i, r in zip(rows, recs):
            for tag, v in _flat(r, prefix).items():
                out.setdefault(tag, []).append(([i], [v]))
        return
    for k in keys0:
        if not prefix and k in NOT_METRICS:
            continue
        col = [r[k] for r in recs]
        types = set(map(type, col))
        sub = prefix if (k == "metrics" and not prefix) else f"{prefix}{k}/"
        if types <= _NUMERIC:
            out.setdefault(prefix + k, []).append((rows, col))
        elif types == {dict}:
            _collect(col, rows, sub, out)
        else:  # mixed: numbers where they are, nested objects where they are
            num = [(i, v) for i, v in zip(rows, col) if type(v) in _NUMERIC]
            if num:
                out.setdefault(prefix + k, []).append(([i for i, _ in num], [v for _, v in num]))
            nested = [(i, v) for i, v in zip(rows, col) if type(v) is dict and v]
            if nested:
                _collect([v for _, v in nested], [i for i, _ in nested], sub, out)


def open_source(path: Path, root: Path) -> JsonlSource:
    return JsonlSource(path, root)
