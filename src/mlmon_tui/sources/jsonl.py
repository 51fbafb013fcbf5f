"""JSON lines metric logs: one object per line (`.jsonl`, `.ndjson`, Ray Tune's `result.json`,
JSON-lines `.log` files, and what the socket server spools).

Step: the first of `keys.STEP_KEYS` present (else the line number); wall time: the first of
`keys.TIME_KEYS` holding a Unix time (else the file's mtime when read). Nested objects are
flattened with `/`, except a `metrics` object, whose keys are tags as they are
(`{"step": 1, "metrics": {"loss": 2}}` -> `loss`). A `run` key is not a metric, Ray's
`config` object goes to the run's hyper-parameters, and booleans, strings, lists and nulls
are skipped. `NaN`/`Infinity` tokens are points like any other.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlmon_tui.sources import keys
from mlmon_tui.sources.base import Problem, ScalarBatch, Update
from mlmon_tui.sources.registry import run_name
from mlmon_tui.sources.textfile import TextTail

LINES_SUFFIXES = {".jsonl", ".ndjson"}
MAYBE_SUFFIXES = {".json", ".log"}
NOT_METRICS = {"run", "config"}
MAX_CHUNKS_PER_POLL = 8
# JSON files that are one document, never a metric stream.
NOT_LINES = {
    "trainer_state.json", "all_results.json", "train_results.json", "eval_results.json",
    "test_results.json", "predict_results.json", "params.json", "config.json",
    "package.json", "tsconfig.json",
}


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
    if len(objs) < 2 and name != "result.json":
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


class JsonlSource:
    kind = "jsonl"

    def __init__(self, path: Path, root: Path):
        self.path = str(path)
        self.run = run_name(path, root)
        self._tail = TextTail(path)
        self._warned: set[str] = set()
        self._bad_said = False
        self._reset_state()

    def _reset_state(self) -> None:
        self._lines = 0
        self._last_step = 0
        self._time_key: str | None = None
        self._time_scale = 0.0
        self._hparams_done = False

    def close(self) -> None:
        pass

    def _problem(self, update: Update, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            update.problems.append(Problem(self.path, message))

    def poll(self) -> Update:
        update = Update()
        for _ in range(MAX_CHUNKS_PER_POLL):
            chunk = self._tail.poll()
            if chunk.problem:
                self._problem(update, chunk.problem)
            if chunk.reset:
                update.resets.append(self.path)
                update.scalars.clear()
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
            if all(type(r) is dict for r in recs):
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
        steps = np.empty(n, dtype=np.float64)
        walls = np.full(n, float(mtime))
        cols: dict[str, tuple[list, list]] = {}
        last = self._last_step
        for i, rec in enumerate(recs):
            if rec is None:
                steps[i] = last
                continue
            flat = _flat(rec)
            if not self._hparams_done and type(rec.get("config")) is dict:
                self._hparams_done = True
                update.meta.setdefault(self.run, {})["hparams"] = _hparams(rec["config"])
            step_key = next((k for k in keys.STEP_KEYS if k in flat), None)
            if step_key is None:
                last = self._lines + i
            else:
                s = flat.pop(step_key)
                last = int(s) if s == s and abs(s) != float("inf") else last
            steps[i] = last
            tk = self._time_key_of(flat)
            if tk is not None:
                walls[i] = flat.pop(tk) * self._time_scale
            for k, v in flat.items():
                c = cols.get(k)
                if c is None:
                    c = cols[k] = ([], [])
                c[0].append(i)
                c[1].append(v)
        self._lines += n
        self._last_step = last
        step_i = steps.astype(np.int64)
        for tag, (idx, vals) in cols.items():
            ix = np.array(idx, dtype=np.intp)
            value = np.array(vals, dtype=np.float64)
            update.scalars.append(ScalarBatch(self.run, tag, step_i[ix], walls[ix], value, self.path))

    def _time_key_of(self, flat: dict) -> str | None:
        if self._time_key is None:
            for k in keys.TIME_KEYS:
                if k in flat:
                    scale = keys.wall_scale(float(flat[k]))
                    if scale:
                        self._time_key, self._time_scale = k, scale
                    break
            else:
                return None
        return self._time_key if self._time_key in flat else None


def open_source(path: Path, root: Path) -> JsonlSource:
    return JsonlSource(path, root)
