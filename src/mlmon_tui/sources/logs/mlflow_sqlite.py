"""MLflow's SQLite tracking store (`mlflow.db`, the default since MLflow 3.7), read live.

The database is opened read-only (`file:...?mode=ro`, autocommit: no transaction is held
between statements, so the shared lock a read takes lasts one short query and never the
time between polls). A poll asks `PRAGMA data_version` whether anything was committed since
the last one (a few microseconds) and, if so, reads what is new by rowid: new runs, new
params, and at most MAX_ROWS new metric rows. Its cost follows the new rows, not the size of
the history. The database being busy (a writer holding its lock, SQLITE_BUSY) means "try
again next poll"; a person hears of it once, and only if it lasts.

Every run of every experiment is named `<experiment>/<run name>` (prefixed by the folder
that holds the database relative to the root, as the file store is). Deleted runs (and the
runs of deleted experiments) are hidden; a run deleted while shown has its points dropped,
a restored one is read again. Params become the run's hyper-parameters, numbers as numbers.
MLflow stores NaN as 0 with `is_nan` set and +-Inf as +-DBL_MAX; both are turned back.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from pathlib import Path

import numpy as np

from mlmon_tui.sources.base import Problem, ScalarBatch, Update

KIND = "mlflow"
SQLITE_MAGIC = b"SQLite format 3\x00"
MAX_ROWS = 200_000  # metric rows one poll reads; the rest comes with the next poll
LIFECYCLE_SECONDS = 2.0  # how often deletions and renames are looked for (when data changed)
BUSY_SAY_AFTER = 10  # consecutive busy polls before a person is told
DBL_MAX = 1.7976931348623157e308
TABLES = {"experiments", "runs", "metrics", "params"}


def connect(path: str | Path) -> sqlite3.Connection:
    """A read-only, autocommit connection that never waits for a lock."""
    uri = "file:" + urllib.parse.quote(str(Path(path).resolve())) + "?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None,
                          check_same_thread=False)
    con.execute("PRAGMA query_only = 1")
    return con


def is_mlflow_db(path: Path) -> bool:
    try:
        con = connect(path)
    except sqlite3.Error:
        return False
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error:
        return False
    finally:
        con.close()
    return TABLES <= names


def probe(path: Path, head: bytes) -> int:
    if not head.startswith(SQLITE_MAGIC):
        return 0
    return 95 if is_mlflow_db(Path(path)) else 0


def open_source(path: Path, root: Path) -> MlflowSqliteSource:
    return MlflowSqliteSource(path, root)


def param_value(text: str):
    """'0.01' -> 0.01, '32' -> 32, 'True' and anything else stays text."""
    try:
        return int(text)
    except (TypeError, ValueError):
        pass
    try:
        v = float(text)
    except (TypeError, ValueError):
        return text
    return v if text.strip().lower() not in ("nan", "inf", "-inf", "infinity") else text


def decode_values(value: np.ndarray) -> np.ndarray:
    """+-Inf from +-DBL_MAX, as MLflow stores them (NaN comes as NULL from the query)."""
    value[value >= DBL_MAX] = np.inf
    value[value <= -DBL_MAX] = -np.inf
    return value


class MlflowSqliteSource:
    kind = KIND

    def __init__(self, path: Path, root: Path) -> None:
        self.path = str(path)
        folder = Path(path).parent
        try:
            where = folder.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            where = "."
        self.prefix = "" if where in (".", "") else where + "/"
        self.run = where or "."
        self._con: sqlite3.Connection | None = None
        self._dv = None
        self._said: set[str] = set()
        self._busy = 0
        self._stopped = False
        self._last_lifecycle = 0.0
        self._more = False
        self._unchecked = True  # deletions not looked for since the last write
        self._exp: dict[int, tuple[str, str]] = {}  # id -> (name, lifecycle)
        self._runs: dict[str, list] = {}  # uuid -> [name shown, experiment id, lifecycle]
        self._shown: dict[str, str] = {}  # name shown -> uuid
        self._hidden: set[str] = set()
        self._params: dict[str, dict] = {}  # uuid -> every param seen
        self._rowid = {"runs": 0, "params": 0, "metrics": 0}

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _say(self, up: Update, message: str, severity: str = "warning") -> None:
        if message not in self._said:
            self._said.add(message)
            up.problems.append(Problem(self.path, message, severity))

    def poll(self) -> Update:
        up = Update()
        if self._stopped:
            return up
        try:
            if self._con is None:
                self._con = connect(self.path)
            self._poll(up)
            self._busy = 0
        except sqlite3.OperationalError as e:
            text = str(e)
            if "locked" in text or "busy" in text:
                self._busy += 1  # a writer holds the lock: try again next poll
                if self._busy >= BUSY_SAY_AFTER:
                    self._say(up, f"database locked by a writer for {BUSY_SAY_AFTER} polls "
                                  "in a row; still retrying")
            elif "no such table" in text or "no such column" in text:
                self._stopped = True
                self._say(up, f"not an MLflow tracking database this reader knows ({text})",
                          "error")
            else:
                self._say(up, f"cannot read: {text}; retrying")
                self.close()
        except sqlite3.DatabaseError as e:  # not a database, malformed, ...
            self._say(up, f"cannot read: {e}; retrying")
            self.close()
        return up

    # -- reading ---------------------------------------------------------------------
    def _poll(self, up: Update) -> None:
        con = self._con
        dv = con.execute("PRAGMA data_version").fetchall()[0][0]
        now = time.monotonic()
        lifecycle_due = now - self._last_lifecycle >= LIFECYCLE_SECONDS
        if dv != self._dv:
            self._unchecked = True  # a write may have deleted a run
        elif not self._more and not (self._unchecked and lifecycle_due):
            return
        self._new_runs(up)
        if self._unchecked and lifecycle_due:
            self._lifecycle(up)
            self._last_lifecycle, self._unchecked = now, False
        self._new_params(up)
        self._new_metrics(up)
        self._dv = dv  # only once all of it was read: a busy database is asked again

    def _experiments(self) -> None:
        for eid, name, stage in self._con.execute(
                "SELECT experiment_id, name, lifecycle_stage FROM experiments"):
            self._exp[eid] = (name or str(eid), stage or "active")

    def _name(self, uuid: str, name: str | None, eid: int) -> str:
        exp = self._exp.get(eid, (str(eid), ""))[0]
        shown = f"{self.prefix}{exp}/{name or uuid}"
        other = self._shown.get(shown)
        if other is not None and other != uuid:  # MLflow allows two runs of one name
            shown = f"{shown} ({uuid[:8]})"
        self._shown[shown] = uuid
        return shown

    def _visible(self, uuid: str) -> bool:
        r = self._runs[uuid]
        return r[2] != "deleted" and self._exp.get(r[1], ("", "active"))[1] != "deleted"

    def _new_runs(self, up: Update) -> None:
        rows = self._con.execute(
            "SELECT rowid, run_uuid, name, experiment_id, lifecycle_stage FROM runs "
            "WHERE rowid > ? ORDER BY rowid", (self._rowid["runs"],)).fetchall()
        if not rows:
            return
        if any(r[3] not in self._exp for r in rows):
            self._experiments()
        for rowid, uuid, name, eid, stage in rows:
            self._rowid["runs"] = max(self._rowid["runs"], rowid)
            if uuid in self._runs:
                continue
            self._runs[uuid] = [self._name(uuid, name, eid), eid, stage or "active"]
            if not self._visible(uuid):
                self._hidden.add(uuid)

    def _lifecycle(self, up: Update) -> None:
        """Deletions and restores of runs and experiments since the last look."""
        self._experiments()
        stages = dict(self._con.execute("SELECT run_uuid, lifecycle_stage FROM runs"))
        for uuid, r in self._runs.items():
            r[2] = stages.get(uuid, "deleted") or "active"
            visible = self._visible(uuid)
            if not visible and uuid not in self._hidden:
                self._hidden.add(uuid)
                up.resets.append(self._source(uuid))
            elif visible and uuid in self._hidden:
                self._hidden.discard(uuid)
                self._reread(uuid, up)

    def _reread(self, uuid: str, up: Update) -> None:
        """A restored run: its params and points up to where the tail stands."""
        params = self._con.execute(
            "SELECT run_uuid, key, value FROM params WHERE run_uuid = ? AND rowid <= ?",
            (uuid, self._rowid["params"])).fetchall()
        self._emit_params(params, up)
        self._read_metrics("run_uuid = ? AND rowid <= ?", (uuid, self._rowid["metrics"]), up)

    def _new_params(self, up: Update) -> None:
        rows = self._con.execute(
            "SELECT rowid, run_uuid, key, value FROM params WHERE rowid > ? ORDER BY rowid",
            (self._rowid["params"],)).fetchall()
        if rows:
            self._rowid["params"] = max(r[0] for r in rows)
            self._emit_params([r[1:] for r in rows], up)

    def _emit_params(self, rows, up: Update) -> None:
        for uuid, key, value in rows:
            if uuid not in self._runs:
                self._new_runs(up)
            if uuid not in self._runs or uuid in self._hidden:
                continue
            hp = up.meta.setdefault(self._runs[uuid][0], {}).setdefault("hparams", {})
            hp[key] = param_value(value)
        # the store replaces a run's "hparams" as a whole: send each run's complete set
        for uuid in {r[0] for r in rows}:
            if uuid in self._runs and uuid not in self._hidden:
                run = self._runs[uuid][0]
                full = self._params.setdefault(uuid, {})
                full.update(up.meta[run]["hparams"])
                up.meta[run]["hparams"] = dict(full)

    def _new_metrics(self, up: Update) -> None:
        lo = self._rowid["metrics"]
        top = self._read_metrics("rowid > ? AND rowid <= ?", (lo, lo + MAX_ROWS), up)
        self._more = top is not None  # something was there: look again next poll
        if top is not None:
            self._rowid["metrics"] = top

    def _read_metrics(self, where: str, args: tuple, up: Update) -> int | None:
        """The metric rows matching `where`, as one batch per (run, key); returns the highest
        rowid met (None if none)."""
        con = self._con
        top = con.execute(f"SELECT max(rowid) FROM metrics WHERE {where}", args).fetchall()[0][0]
        if top is None:
            return None
        groups: dict[tuple[str, str], list] = {}
        for u, k, *rest in con.execute(
                "SELECT run_uuid, key, CASE WHEN is_nan THEN NULL ELSE value END, timestamp, "
                f"step FROM metrics WHERE {where} AND rowid <= ? ORDER BY rowid", (*args, top)):
            g = groups.get((u, k))
            if g is None:
                g = groups[(u, k)] = []
            g.append(rest)
        if any(u not in self._runs for u, _ in groups):
            self._new_runs(up)
        for (uuid, key), rows in groups.items():
            if uuid in self._runs and uuid not in self._hidden:
                a = np.array(rows, dtype=np.float64)  # NULL (how a NaN is stored) -> nan
                value = decode_values(a[:, 0])
                up.scalars.append(ScalarBatch(self._runs[uuid][0], key, a[:, 2].astype(np.int64),
                                              a[:, 1] / 1000.0, value, self._source(uuid)))
        return top

    def _source(self, uuid: str) -> str:
        return f"{self.path}#{uuid}"
