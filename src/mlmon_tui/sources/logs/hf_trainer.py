"""Hugging Face Trainer's `trainer_state.json`: the `log_history` list, keyed by `step`.

The Trainer rewrites the whole file at each checkpoint, so a changed file (size, mtime or
inode) is read whole. The output directory holds several copies of the same history
(`trainer_state.json`, `checkpoint-500/trainer_state.json`, `last-checkpoint/...`): all of
them belong to the run of the output directory and share one `_Feed`, which remembers the
last step sent per tag, so each point reaches the store once, from whichever copy had it
first. A copy whose history goes back (a new training in the same directory) resets the
run's points from every copy and sends its history again.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import numpy as np

from mlmon_tui.sources.logs.hf_params import hf_hparams
from mlmon_tui.sources.base import Problem, ScalarBatch, Update
from mlmon_tui.sources.logs.registry import run_name

NAME = "trainer_state.json"
CHECKPOINT_DIR = re.compile(r"^(checkpoint-\d+|last-checkpoint)$")
MAX_BYTES = 512 << 20
META_KEYS = ("max_steps", "num_train_epochs")


def probe(path: Path, head: bytes) -> int:
    if path.name != NAME:
        return 0
    if not head.strip():
        return 20  # being written
    if head.lstrip().startswith(b"{") and (b'"log_history"' in head or b'"global_step"' in head):
        return 90
    return 0


def run_dir(path: Path) -> Path:
    """The output directory a trainer_state.json belongs to (checkpoint copies included)."""
    parent = path.parent
    return parent.parent if CHECKPOINT_DIR.match(parent.name) else parent


class _Feed:
    """What one run has been sent, shared by all copies of its trainer_state.json."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}  # tag -> last step sent
        self.sources: set[str] = set()


_FEEDS: dict[str, _Feed] = {}
_LOCK = threading.Lock()


class TrainerStateSource:
    kind = "hf_trainer"

    def __init__(self, path: Path, root: Path):
        self.path = str(path)
        self._dir = run_dir(path)
        self.run = run_name(self._dir / NAME, root)
        self._key = os.path.abspath(self._dir)
        self._sig: tuple | None = None
        self._bad_sig: tuple | None = None
        self._max_step = -1
        self._meta: dict = {}
        self._said: set[str] = set()
        with _LOCK:
            _FEEDS.setdefault(self._key, _Feed()).sources.add(self.path)

    def close(self) -> None:
        with _LOCK:
            feed = _FEEDS.get(self._key)
            if feed is not None:
                feed.sources.discard(self.path)
                if not feed.sources:
                    del _FEEDS[self._key]

    def _problem(self, update: Update, message: str) -> Update:
        if message not in self._said:
            self._said.add(message)
            update.problems.append(Problem(self.path, message))
        return update

    def poll(self) -> Update:
        update = Update()
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return update  # checkpoints are rotated away: what they sent stays
        except OSError as e:
            return self._problem(update, f"cannot read: {e.strerror or e}")
        sig = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if sig == self._sig:
            return update
        if st.st_size > MAX_BYTES:
            self._sig = sig
            return self._problem(update, f"larger than {MAX_BYTES >> 20} MiB: not read")
        try:
            with open(self.path, "rb") as f:
                data = json.loads(f.read())
            if not isinstance(data, dict) or not isinstance(data.get("log_history", []), list):
                raise ValueError("no log_history list")
        except OSError as e:
            return self._problem(update, f"cannot read: {e.strerror or e}")
        except (ValueError, RecursionError) as e:
            if sig != self._bad_sig:  # maybe caught mid-write: try again on the next poll
                self._bad_sig = sig
                return update
            self._sig = sig
            return self._problem(update, f"not a valid trainer_state.json: {e}")
        self._sig = sig
        self._read(data, st.st_mtime, update)
        return update

    def _read(self, data: dict, mtime: float, update: Update) -> None:
        cols: dict[str, tuple[list, list]] = {}
        top = -1
        for entry in data.get("log_history") or ():
            if not isinstance(entry, dict):
                continue
            step = entry.get("step")
            if type(step) is not int:
                continue
            top = max(top, step)
            for k, v in entry.items():
                if k != "step" and type(v) in (int, float):
                    c = cols.setdefault(k, ([], []))
                    c[0].append(step)
                    c[1].append(v)
        meta = {k: data[k] for k in META_KEYS if data.get(k) is not None}
        hparams = hf_hparams(data, [Path(self.path).parent, self._dir])
        if hparams:
            meta["hparams"] = hparams
        if meta and meta != self._meta:
            self._meta = meta
            update.meta[self.run] = dict(meta)
        with _LOCK:
            feed = _FEEDS.setdefault(self._key, _Feed())
            feed.sources.add(self.path)
            if top < self._max_step:  # this copy went back: a new training in this directory
                update.resets.extend(sorted(feed.sources))
                feed.sent.clear()
            self._max_step = top
            for tag, (steps, values) in cols.items():
                step = np.array(steps, dtype=np.int64)
                keep = step > feed.sent.get(tag, -1)
                if not keep.any():
                    continue
                value = np.array(values, dtype=np.float64)[keep]
                step = step[keep]
                feed.sent[tag] = int(step.max())
                wall = np.full(len(step), float(mtime))
                update.scalars.append(ScalarBatch(self.run, tag, step, wall, value, self.path))


def open_source(path: Path, root: Path) -> TrainerStateSource:
    return TrainerStateSource(path, root)
