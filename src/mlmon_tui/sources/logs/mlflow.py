"""MLflow's file store: `mlruns/<experiment_id>/<run_id>/metrics/<key>`, one file per metric
(a key with `/` is nested directories), lines `timestamp_ms value step`, appended live.

The run is named `<experiment name>/<run name>` from the experiment's and the run's
`meta.yaml` (or the `tags/mlflow.runName` file), falling back to the ids, and prefixed by
the folder that holds `mlruns` relative to the root (nothing when that is the root), so two
stores under one root do not mix. `params/*` become the run's hyper-parameters.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from mlmon_tui.sources.base import Problem, ScalarBatch, Update
from mlmon_tui.sources.logs.textfile import TextTail

_LINE = re.compile(rb"^\d+ \S+( -?\d+)?\r?$")
MAX_CHUNKS_PER_POLL = 8
MAX_PARAM_BYTES = 64 << 10


def _layout(path: Path) -> tuple[Path, Path, str] | None:
    """(run_dir, metrics_dir, key) if `path` sits under `<run>/metrics/` of a file store."""
    parts = path.parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == "metrics":
            run = Path(*parts[:i])
            if (run / "meta.yaml").is_file() or (run.parent / "meta.yaml").is_file():
                return run, run / "metrics", "/".join(parts[i + 1 :])
    return None


def probe(path: Path, head: bytes) -> int:
    if "metrics" not in path.parts[:-1] or _layout(path) is None:
        return 0
    first = head.split(b"\n", 1)[0]
    if head and not _LINE.match(first):
        return 0
    return 80


def _yaml_field(path: Path, field: str) -> str:
    """One top-level `field: value` of a small meta.yaml, without a YAML parser."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:MAX_PARAM_BYTES]
    except OSError:
        return ""
    m = re.search(rf"^{re.escape(field)}:[ \t]*(.*)$", text, re.MULTILINE)
    if not m:
        return ""
    value = m.group(1).strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def _read_small(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(MAX_PARAM_BYTES).strip()
    except OSError:
        return ""


def names(run_dir: Path, root: Path) -> str:
    exp_dir = run_dir.parent
    exp = _yaml_field(exp_dir / "meta.yaml", "name") or exp_dir.name
    run = (
        _yaml_field(run_dir / "meta.yaml", "run_name")
        or _read_small(run_dir / "tags" / "mlflow.runName")
        or _yaml_field(run_dir / "meta.yaml", "name")
        or run_dir.name
    )
    store = exp_dir.parent
    if store.name == "mlruns":
        store = store.parent
    try:
        where = store.relative_to(root).as_posix()
    except ValueError:
        where = "."
    prefix = "" if where in (".", "") else where + "/"
    return f"{prefix}{exp}/{run}"


def params(run_dir: Path) -> dict[str, str]:
    out = {}
    base = run_dir / "params"
    for dirpath, _, files in os.walk(base):
        for name in files:
            p = Path(dirpath) / name
            out[p.relative_to(base).as_posix()] = _read_small(p)
    return out


class MlflowMetricSource:
    kind = "mlflow"

    def __init__(self, path: Path, root: Path):
        self.path = str(path)
        layout = _layout(path)
        run_dir, _, self.tag = layout if layout else (path.parent, None, path.name)
        self._run_dir = run_dir
        self.run = names(run_dir, root)
        self._tail = TextTail(path)
        self._params_mtime = None
        self._said: set[str] = set()
        self._rows = 0

    def close(self) -> None:
        pass

    def poll(self) -> Update:
        update = Update()
        self._poll_params(update)
        for _ in range(MAX_CHUNKS_PER_POLL):
            chunk = self._tail.poll()
            if chunk.problem and chunk.problem not in self._said:
                self._said.add(chunk.problem)
                update.problems.append(Problem(self.path, chunk.problem))
            if chunk.reset:
                update.resets.append(self.path)
                update.scalars.clear()
                self._rows = 0
            if chunk.data:
                self._parse(chunk.data, update)
            if not chunk.more:
                break
        return update

    def _poll_params(self, update: Update) -> None:
        try:
            mtime = os.stat(self._run_dir / "params").st_mtime_ns
        except OSError:
            return
        if mtime != self._params_mtime:
            self._params_mtime = mtime
            hp = params(self._run_dir)
            if hp:
                update.meta[self.run] = {"hparams": hp}

    def _parse(self, data: bytes, update: Update) -> None:
        text = data.decode("utf-8", "replace")
        fields = text.split()
        lines = text.count("\n")
        if len(fields) == 3 * lines:  # the usual case: every line is `ts value step`
            try:
                a = np.array(fields, dtype=np.float64).reshape(lines, 3)
                ts, value, step = a[:, 0], a[:, 1], a[:, 2].astype(np.int64)
                self._emit(ts, value, step, update)
                return
            except ValueError:
                pass
        ts_l, v_l, s_l = [], [], []
        for i, line in enumerate(text.splitlines()):
            f = line.split()
            try:
                t, v = float(f[0]), float(f[1])
                s = int(f[2]) if len(f) > 2 else self._rows + i  # old stores wrote no step
            except (ValueError, IndexError):
                if line.strip() and "bad" not in self._said:
                    self._said.add("bad")
                    update.problems.append(Problem(
                        self.path, f"line {self._rows + i + 1} is not `timestamp value step`: skipped"))
                continue
            ts_l.append(t), v_l.append(v), s_l.append(s)
        self._emit(np.array(ts_l, dtype=np.float64), np.array(v_l, dtype=np.float64),
                   np.array(s_l, dtype=np.int64), update)

    def _emit(self, ts: np.ndarray, value: np.ndarray, step: np.ndarray, update: Update) -> None:
        self._rows += len(step)
        if len(step):
            update.scalars.append(ScalarBatch(self.run, self.tag, step, ts / 1000.0, value, self.path))


def open_source(path: Path, root: Path) -> MlflowMetricSource:
    return MlflowMetricSource(path, root)
