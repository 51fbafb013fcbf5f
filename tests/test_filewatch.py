"""Writes to the files being read reach the watcher's thread directly (inotify on each file),
and the watcher keeps tailing live where watchdog alone saw nothing: files reached through a
linked folder, a file deleted and written again, a SQLite database's `-wal` companion."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from mlmon_tui.sources.logs.tfevents import EventWriter
from mlmon_tui.sources.watch.filewatch import FileWatches
from mlmon_tui.sources.watch.watcher import Watcher
from mlmon_tui.store import Store

pytestmark = pytest.mark.skipif(not Path("/proc/sys/fs/inotify").exists(),
                                reason="no inotify on this system")


@pytest.fixture
def fw():
    w = FileWatches()
    yield w
    w.close()


def test_a_write_wakes_the_waiter_and_names_the_file(tmp_path, fw):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("x")
    b.write_text("y")
    assert fw.add(a) and fw.add(b)
    assert fw.take() == set()
    assert not fw.wait(0.05)  # nothing written: the wait runs out
    t0 = time.monotonic()
    with open(b, "a") as f:
        f.write("more")
    assert fw.wait(2.0)
    assert time.monotonic() - t0 < 1.0
    assert fw.take() == {b}
    assert fw.take() == set()  # read once


def test_set_wakes_a_waiting_thread_and_clear_rearms(fw):
    woke = threading.Event()

    def waiter():
        fw.wait(5.0)
        woke.set()

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.05)
    fw.set()
    assert woke.wait(2.0)
    t.join()
    fw.clear()
    assert not fw.wait(0.05)


def test_a_companion_reports_its_owner_and_a_deleted_file_is_dropped(tmp_path, fw):
    db, wal = tmp_path / "m.db", tmp_path / "m.db-wal"
    db.write_bytes(b"")
    wal.write_bytes(b"")
    fw.add(db)
    fw.add(wal, owner=db)
    with open(wal, "ab") as f:
        f.write(b"page")
    assert fw.take() == {db}
    db.unlink()
    assert fw.take() == {db}  # its watch is gone: the reader finds out on its next poll
    assert db not in fw and wal in fw


def test_a_missing_file_is_not_watched(tmp_path, fw):
    assert not fw.add(tmp_path / "nope")
    assert fw.failed == 0  # not there is not a failure; a watch limit would be


def _tfevents(path: Path, steps) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = EventWriter(path)
    for s in steps:
        w.add_scalar("loss", 1.0 / (s + 1), s, 1_700_000_000.0 + s)
    w.close()


def _seen_within(store: Store, run: str, last: int, seconds: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        s = store.series(run, "loss")
        if s is not None and len(s) and s.last_step == last:
            return time.monotonic() - t0
        time.sleep(0.01)
    return None


def test_files_in_a_linked_folder_are_tailed_live(tmp_path):
    """watchdog does not follow links into folders; the file's own watch does (before,
    such files waited for the two-second sweep)."""
    real, root = tmp_path / "elsewhere", tmp_path / "logs"
    root.mkdir()
    ev = real / "events.out.tfevents.1"
    _tfevents(ev, range(3))
    os.symlink(real, root / "linked")
    store = Store()
    w = Watcher([root], store, sweep_interval=30.0)  # the sweep cannot be what reads it
    w.start()
    try:
        assert w.loaded.wait(10)
        assert store.series("linked", "loss").last_step == 2
        for step in (3, 4, 5):
            time.sleep(0.3)
            ew = EventWriter(ev)  # appends to the same file
            ew.add_scalar("loss", 0.1, step, 1_700_000_000.0 + step)
            ew.close()
            took = _seen_within(store, "linked", step, 3.0)
            assert took is not None and took < 1.0, took
    finally:
        w.stop()


def test_a_file_deleted_and_written_again_is_still_tailed_live(tmp_path):
    ev = tmp_path / "run" / "events.out.tfevents.1"
    _tfevents(ev, range(3))
    store = Store()
    w = Watcher([tmp_path], store, sweep_interval=30.0)
    w.start()
    try:
        assert w.loaded.wait(10)
        ev.unlink()
        _tfevents(ev, range(2))  # a new file under the same name
        time.sleep(0.5)
        ew = EventWriter(ev)
        ew.add_scalar("loss", 0.1, 7, 1_700_000_007.0)
        ew.close()
        took = _seen_within(store, "run", 7, 3.0)
        assert took is not None and took < 1.5, took
    finally:
        w.stop()



def test_a_refused_watch_is_counted(tmp_path, fw):
    """A watch the kernel refuses (past fs.inotify.max_user_watches, no permission, not a
    file: provoked here by a path under a file) is counted; the watcher then says in its
    mode that such files are read by its sweep."""
    f = tmp_path / "plain"
    f.write_text("x")
    assert not fw.add(f / "below")
    assert fw.failed == 1
    assert fw.add(f) and fw.failed == 1


def test_files_with_a_watch_are_swept_less_often(tmp_path):
    """An idle tree costs less: a file whose writes wake the watcher is polled on every
    FULL_SWEEP-th sweep only (200 idle runs: 200 stats every 2 s before)."""
    for k in range(5):
        _tfevents(tmp_path / f"r{k}" / "events.out.tfevents.1", range(3))
    store = Store()
    w = Watcher([tmp_path], store, sweep_interval=0.1)
    w.start()
    try:
        assert w.loaded.wait(10)
        polls = {"n": 0}
        for tracked in w._sources.values():
            src = tracked.source
            real = src.poll

            def counted(real=real):
                polls["n"] += 1
                return real()

            src.poll = counted
        time.sleep(3.0)  # about 11 sweeps (one read every MIN_READ_GAP at most), no writes
        # sweeping every file every time polls each about 11 times; the full sweeps, 2 or 3
        assert 0 < polls["n"] <= 5 * 5, polls
        ew = EventWriter(tmp_path / "r0" / "events.out.tfevents.1")
        ew.add_scalar("loss", 0.1, 9, 1_700_000_009.0)
        ew.close()
        took = _seen_within(store, "r0", 9, 3.0)
        assert took is not None and took < 1.0, took  # a write is read at once all the same
    finally:
        w.stop()
