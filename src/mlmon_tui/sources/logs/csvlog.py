"""CSV metric logs: Lightning's CSVLogger, Keras' CSVLogger, Ray Tune's progress.csv and any
CSV with a header and numeric columns.

One column is the step (see `keys.STEP_KEYS`; else the row number), one may be the wall time
(a Unix time in s or ms; else the file's mtime when read); every other column whose cells are
numbers is a tag. Empty cells (Lightning's sparse rows) are no point; `nan`/`inf` cells are.
Numeric blocks go through a C parser at once (numpy's loadtxt; pandas' read_csv for blocks of
8 MiB and more when pandas is installed); anything else (quotes, ragged rows, text cells)
through the csv module, column by column. Ray's progress.csv is left to result.json beside
it, which holds the same results plus the keys that appeared after the first one.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from mlmon_tui.sources.logs import keys
from mlmon_tui.sources.base import ScalarBatch, Update
from mlmon_tui.sources.logs.textfile import TextSource

SUFFIXES = {".csv", ".tsv", ".log", ".txt"}
KNOWN_NAMES = {"metrics.csv", "progress.csv", "history.csv", "training.log", "log.csv", "training.csv"}
SEPARATORS = (",", ";", "\t")
MAX_CHUNKS_PER_POLL = 8
# An empty cell is parsed as this exact double (the smallest subnormal) so that it can be told
# from a real `nan` cell after a vectorised parse; no metric is exactly 5e-324.
EMPTY_TEXT = "5e-324"
EMPTY = float(EMPTY_TEXT)
_NAME_RE = re.compile(r"^[^\x00-\x1f]{1,200}$")
# A block this large (a first read of a big log) goes to pandas' C parser when pandas is
# installed: its import (~0.5 s) is then cheaper than the difference. Smaller blocks, and
# machines without pandas, use numpy's loadtxt.
BULK_BYTES = 8 << 20
_PANDAS = None


def _pandas():
    global _PANDAS
    if _PANDAS is None:
        try:
            import pandas

            _PANDAS = pandas
        except ImportError:
            _PANDAS = False
    return _PANDAS or None


def _sep_of(line: str) -> str:
    counts = [line.count(s) for s in SEPARATORS]
    return SEPARATORS[counts.index(max(counts))] if max(counts) else ","


def _fill_empty(body: bytes, sep: bytes, fill: bytes) -> bytes:
    """Write `fill` into every empty cell (bytes.replace runs at memory speed; two passes of
    `,,` fill any run of empty cells)."""
    two = sep + sep
    mid = sep + fill + sep
    body = body.replace(two, mid).replace(two, mid)
    body = body.replace(b"\n" + sep, b"\n" + fill + sep).replace(sep + b"\n", sep + fill + b"\n")
    if body.startswith(sep):
        body = fill + body
    if body.endswith(sep):
        body += fill
    return body


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _hparams_yaml(path: Path) -> dict | None:
    """Lightning's hparams.yaml beside metrics.csv, as a dict (None if absent or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    try:
        import yaml  # PyYAML comes with Lightning, which writes this file

        data = yaml.safe_load(text)
        return data if isinstance(data, dict) else None
    except ImportError:
        pass
    except Exception:
        return None
    out = {}  # without PyYAML: the flat `key: value` lines, scalars typed as YAML does
    for line in text.splitlines():
        if line[:1].isspace() or ":" not in line or line.startswith(("#", "-")):
            continue
        k, _, v = line.partition(":")
        out[k.strip().strip("'\"")] = _yaml_scalar(v.strip())
    return out


def _yaml_scalar(v: str):
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("", "null", "~"):
        return None
    for kind in (int, float):
        try:
            return kind(v)
        except ValueError:
            pass
    return v


def probe(path: Path, head: bytes) -> int:
    name = path.name.lower()
    if path.suffix.lower() not in SUFFIXES or b"\x00" in head:
        return 0
    if name == "progress.csv" and (path.parent / "result.json").exists():
        return 0  # Ray writes the same results to result.json, which keeps late keys too
    lines = head.decode("utf-8", "replace").splitlines()
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return 10 if name in KNOWN_NAMES else 0  # an empty log that is about to be written
    header = lines[0]
    sep = _sep_of(header)
    fields = [f.strip() for f in next(csv.reader([header], delimiter=sep))]
    if not fields or not all(_NAME_RE.match(f) for f in fields[:-1] if f) or "" in fields[:-1]:
        return 0
    if sum(_is_number(f) for f in fields) > 0:
        return 0  # a header names columns; a data row is not a header
    step = keys.pick(fields, keys.STEP_KEYS)
    if len(lines) > 1:
        row = next(csv.reader([lines[1]], delimiter=sep))
        complete = len(head) < 4096 or len(lines) > 2
        if complete and len(row) != len(fields):
            return 0
        if not any(_is_number(c) for c in row):
            return 0
        if step < 0 and not all(_is_number(c) or not c.strip() for c in row[:-1]):
            return 0  # no step column and text cells: a data set (id,text,label), not a log
    elif path.suffix.lower() != ".csv" and name not in KNOWN_NAMES:
        return 0
    if path.suffix.lower() in {".log", ".txt"} and (len(fields) < 2 or step < 0):
        return 0  # plain-text logs: only a Keras-style table with an epoch/step column
    if name == "metrics.csv" and step >= 0:
        return 60
    if name in KNOWN_NAMES or fields[0].lower() == "epoch":
        return 55
    return 50 if step >= 0 else 30


class CsvSource(TextSource):
    kind = "csv"

    def __init__(self, path: Path, root: Path):
        super().__init__(path, root)
        self._hparams_path = path.parent / "hparams.yaml"
        self._hparams_mtime = None
        self._reset_state()

    def _reset_state(self) -> None:
        self.columns: list[str] | None = None
        self._sep = ","
        self._step_col = -1
        self._time_col = -1
        self._time_scale: float | None = None  # decided on the first time cell
        self._text_cols: set[int] = set()  # columns seen holding text: never tags
        self._rows = 0
        self._last_step = 0

    def poll(self) -> Update:
        update = Update()
        self._poll_hparams(update)
        for _ in range(MAX_CHUNKS_PER_POLL):
            chunk = self._tail.poll()
            if chunk.problem:
                self._problem(update, chunk.problem)
            if chunk.reset:
                update.resets.append(self.path)
                update.scalars.clear()  # drop what this poll read before the rewrite
                self._reset_state()
            if chunk.data:
                self._parse(chunk.data, chunk.start, chunk.mtime, update)
            if not chunk.more:
                break
        return update

    def _poll_hparams(self, update: Update) -> None:
        try:
            mtime = self._hparams_path.stat().st_mtime_ns
        except OSError:
            return
        if mtime != self._hparams_mtime:
            self._hparams_mtime = mtime
            hp = _hparams_yaml(self._hparams_path)
            if hp:
                update.meta[self.run] = {"hparams": hp}

    def _parse(self, data: bytes, start: bool, mtime: float, update: Update) -> None:
        if start or self.columns is None:
            head, _, data = data.lstrip(b"\r\n").partition(b"\n")
            if not head:
                return
            if b"\x00" in head:
                self._problem(update, "not a CSV file: binary data in the first line")
                self.columns = []
                return
            head = head.decode("utf-8", "replace").rstrip("\r")
            self._sep = _sep_of(head)
            self.columns = [c.strip() for c in next(csv.reader([head], delimiter=self._sep))]
            self._step_col = keys.pick(self.columns, keys.STEP_KEYS)
            self._time_col = keys.pick(self.columns, keys.TIME_KEYS)
        if not self.columns or not data.strip(b"\r\n"):
            return
        table = None if b'"' in data else self._fast(data)
        if table is None:
            text = data.decode("utf-8", "replace").replace("\r", "").rstrip("\n")
            table = self._slow(text, update)
        if table is not None and len(table):
            self._emit(table, mtime, update)

    def _fast(self, data: bytes) -> np.ndarray | None:
        """All rows at once with a C parser (numpy's, or pandas' for big blocks), or None if
        the block needs the slow path. `data` is complete lines."""
        sep, n = self._sep, len(self.columns)
        use = [j for j in range(n) if j not in self._text_cols]
        # With no `n` anywhere there is no nan/inf cell, so every NaN parsed is an empty cell
        # (and loadtxt may read empty cells as the cheaper `nan`).
        literal_nan = b"n" in data or b"N" in data
        pd = _pandas() if len(data) >= BULK_BYTES and not literal_nan else None
        try:
            if pd is not None:  # several times faster on big blocks; reads empty cells as NaN
                part = pd.read_csv(io.BytesIO(data), sep=sep, header=None, usecols=use,
                                   dtype=np.float64, engine="c").to_numpy()
            else:
                body = data.replace(b"\r", b"").rstrip(b"\n")
                fill = EMPTY_TEXT if literal_nan else "nan"
                body = _fill_empty(body, sep.encode(), fill.encode())
                part = np.loadtxt(io.BytesIO(body), delimiter=sep, usecols=use, ndmin=2,
                                  comments=None, dtype=np.float64, encoding="latin-1")
        except (ValueError, IndexError, TypeError):
            return None
        if part.shape[1] != len(use) or data.rstrip(b"\r\n").count(b"\n") + 1 != len(part):
            return None
        if not literal_nan:
            part[np.isnan(part)] = EMPTY
        if len(use) == n:
            return part
        table = np.full((len(part), n), EMPTY)
        table[:, use] = part
        return table

    def _slow(self, body: str, update: Update) -> np.ndarray | None:
        if "\x00" in body:
            self._problem(update, "binary data (NUL bytes) in the file: those cells are skipped")
            body = body.replace("\x00", "")
        try:
            rows = [r for r in csv.reader(io.StringIO(body), delimiter=self._sep) if r]
        except csv.Error as e:
            self._problem(update, f"unreadable CSV block skipped: {e}")
            return None
        if not rows:
            return None
        n = len(self.columns)
        table = np.full((len(rows), n), EMPTY)
        ragged = any(len(r) != n for r in rows)
        for j in range(n):
            if j in self._text_cols:
                continue
            cells = [r[j].strip() if j < len(r) else "" for r in rows]
            try:
                table[:, j] = np.array([c if c else EMPTY_TEXT for c in cells], dtype=np.float64)
                continue
            except ValueError:
                pass
            numbers = 0
            for i, c in enumerate(cells):
                try:
                    table[i, j] = float(c) if c else EMPTY
                    numbers += bool(c)
                except ValueError:
                    pass
            if numbers == 0:
                self._text_cols.add(j)  # a text column (dates, host names, lists): skipped
        if ragged:
            self._problem(update, f"rows whose cell count differs from the header's {n} columns")
        return table

    def _emit(self, table: np.ndarray, mtime: float, update: Update) -> None:
        n = len(table)
        if self._step_col >= 0:
            col = table[:, self._step_col].copy()
            col[col == EMPTY] = np.nan
            step, self._last_step = keys.steps_from(col, self._last_step)
        else:
            step = np.arange(self._rows, self._rows + n, dtype=np.int64)
        self._rows += n
        wall = np.full(n, float(mtime))
        time_col = -1
        if self._time_col >= 0:
            t = table[:, self._time_col]
            have = (t != EMPTY) & np.isfinite(t)
            if self._time_scale is None and have.any():
                self._time_scale = keys.wall_scale(float(t[have][0]))
            if self._time_scale:
                wall[have] = t[have] * self._time_scale
                time_col = self._time_col
        for j, name in enumerate(self.columns):
            if j == self._step_col or j == time_col or j in self._text_cols or not name:
                continue
            v = table[:, j]
            keep = v != EMPTY
            if keep.all():
                update.scalars.append(ScalarBatch(self.run, name, step, wall, v.copy(), self.path))
            elif keep.any():
                update.scalars.append(
                    ScalarBatch(self.run, name, step[keep], wall[keep], v[keep], self.path)
                )


def open_source(path: Path, root: Path) -> CsvSource:
    return CsvSource(path, root)
