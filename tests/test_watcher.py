"""The watcher finds new runs and files live and tails them, with inotify and by polling."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlmon_tui.sources.logs.tfevents import EventWriter
from mlmon_tui.sources.watch.watcher import Watcher, filesystem_type
from mlmon_tui.store import Store


def wait_until(pred, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def write(path: Path, steps, tag: str = "train/loss") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = EventWriter(path)
    for s in steps:
        w.add_scalar(tag, float(s), s, 1_700_000_000.0 + s)
    w.close()


@pytest.mark.parametrize("poll", [False, True])
def test_new_runs_and_appends_appear_live(tmp_path, poll):
    calls = []
    store = Store()
    w = Watcher([tmp_path], store, poll=poll, on_change=calls.append)
    w.start()
    try:
        assert w.loaded.wait(5)
        assert w.mode == ("polling (--poll)" if poll else "inotify")
        write(tmp_path / "exp" / "a" / "events.out.tfevents.1", range(5))
        assert wait_until(lambda: store.series("exp/a", "train/loss") is not None
                          and len(store.series("exp/a", "train/loss")) == 5)
        with open(tmp_path / "exp" / "a" / "events.out.tfevents.1", "ab") as f:
            w2 = EventWriter(tmp_path / "exp" / "a" / "events.out.tfevents.2")
            w2.add_scalar("train/loss", 9.0, 9, 1_700_000_009.0)
            w2.close()
            f.flush()
        assert wait_until(lambda: store.series("exp/a", "train/loss").last_step == 9)
        assert calls and ("exp/a", "train/loss") in set().union(*calls)
    finally:
        t = time.monotonic()
        w.stop()
        assert time.monotonic() - t < 2.0  # quitting never hangs on the thread


def test_replaced_file_is_read_again_without_duplicates(tmp_path):
    store = Store()
    write(tmp_path / "r" / "events.out.tfevents.1", range(10))
    w = Watcher([tmp_path], store)
    w.start()
    try:
        assert w.loaded.wait(5)
        assert len(store.series("r", "train/loss")) == 10
        tmp = tmp_path / "new.tmp"
        write(tmp, range(3))
        os.replace(tmp, tmp_path / "r" / "events.out.tfevents.1")
        assert wait_until(lambda: len(store.series("r", "train/loss")) == 3)
        assert store.series("r", "train/loss").step.tolist() == [0, 1, 2]
    finally:
        w.stop()


def test_hidden_and_checkpoint_folders_are_skipped(tmp_path):
    write(tmp_path / "run" / "events.out.tfevents.1", range(3))
    write(tmp_path / ".hidden" / "events.out.tfevents.1", range(3))
    write(tmp_path / "run" / ".ipynb_checkpoints" / "events.out.tfevents.1", range(3))
    store = Store()
    Watcher([tmp_path], store).load_once()
    assert store.runs() == ["run"]


def test_several_roots_are_named_apart(tmp_path):
    write(tmp_path / "a" / "v0" / "events.out.tfevents.1", range(2))
    write(tmp_path / "b" / "v0" / "events.out.tfevents.1", range(2))
    store = Store()
    Watcher([tmp_path / "a", tmp_path / "b"], store).load_once()
    assert store.runs() == ["a/v0", "b/v0"]


def test_filesystem_type_reads_the_mount_table(tmp_path):
    fs = filesystem_type(tmp_path)
    with open("/proc/mounts") as f:
        types = {line.split()[2] for line in f if len(line.split()) > 2}
    assert fs in types
