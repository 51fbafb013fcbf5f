"""Per-run process attribution with real processes holding real log files open."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mlmon_tui.sources.system.procs import ProcessTracker, descendants, ppid_map, scan_writers

# A "training" process: opens its log for appending, keeps it open, optionally starts a worker
# (as a DataLoader does, by fork, so the worker inherits the open log file), then burns CPU.
TRAINER = r"""
import os, sys, time
log = open(sys.argv[1], "a")
log.write("step,loss\n"); log.flush()
workers = int(sys.argv[2])
for _ in range(workers):
    if os.fork() == 0:
        while True:
            time.sleep(0.05)
print("ready", flush=True)
end = time.time() + 60
while time.time() < end:
    sum(i * i for i in range(20000))
"""


def start_trainer(log: Path, workers: int = 0) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", TRAINER, str(log), str(workers)],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert p.stdout.readline().strip() == "ready"
    return p


def stop(p: subprocess.Popen) -> None:
    try:
        for c in psutil.Process(p.pid).children(recursive=True):
            c.kill()
    except psutil.NoSuchProcess:
        pass
    p.kill()
    p.wait()


@pytest.fixture
def two_runs(tmp_path):
    a, b = tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    pa = start_trainer(a / "metrics.csv")
    pb = start_trainer(b / "log.jsonl", workers=2)
    yield a, b, pa, pb
    stop(pa)
    stop(pb)


def test_scan_finds_writers_by_file_and_by_directory(two_runs):
    a, b, pa, pb = two_runs
    found = scan_writers({"a": [str(a)], "b": [str(b / "log.jsonl")]}, exclude=[os.getpid()])
    assert pa.pid in found["a"] and pa.pid not in found.get("b", set())
    workers = {c.pid for c in psutil.Process(pb.pid).children()}
    assert len(workers) == 2
    assert found["b"] == {pb.pid} | workers  # forked workers inherit the log file


def test_readers_and_ourselves_are_not_writers(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    log = run / "events.csv"
    log.write_text("step,loss\n")
    reader = subprocess.Popen(
        [sys.executable, "-c", f"f = open({str(log)!r}); print('ready', flush=True); import time; time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "ready"
        with open(log, "a"):  # this process writes it, but the monitor never counts itself
            assert scan_writers({"r": [str(run)]}, exclude=[os.getpid()]) == {}
            assert scan_writers({"r": [str(run)]}) == {"r": {os.getpid()}}
    finally:
        reader.kill()
        reader.wait()


def test_tracker_groups_workers_under_their_trainer(two_runs):
    a, b, pa, pb = two_runs
    t = ProcessTracker(lambda: {"a": [str(a)], "b": [str(b)]}, children_interval=0)
    first = t.sample()
    assert [p.pid for p in first["a"]] == [pa.pid]
    (top,) = first["b"]
    assert top.pid == pb.pid and top.name.startswith("python")
    assert sorted(c.pid for c in top.children) == sorted(
        c.pid for c in psutil.Process(pb.pid).children()
    )
    assert top.cpu_percent is None  # psutil needs two readings
    assert top.rss and top.rss > 1_000_000
    time.sleep(1.0)
    second = t.sample({pb.pid: {0: 123 << 20, 3: 7 << 20}})
    busy = second["a"][0]
    idle = second["b"][0].children
    assert busy.cpu_percent is not None and all(c.cpu_percent is not None for c in idle)
    # the trainer burns CPU, its sleeping workers do not (even on a loaded machine)
    assert busy.cpu_percent > 5 and busy.cpu_percent > 3 * max(c.cpu_percent for c in idle)
    assert dict(second["b"][0].gpu_mem) == {0: 123 << 20, 3: 7 << 20}
    assert second["b"][0].gpu_mem_total == 130 << 20
    assert dict(busy.gpu_mem) == {}


def test_exited_processes_are_dropped_without_error(two_runs):
    a, b, pa, pb = two_runs
    t = ProcessTracker(lambda: {"a": [str(a)], "b": [str(b)]}, children_interval=0)
    t.sample()
    worker = psutil.Process(pb.pid).children()[0]
    worker.kill()
    deadline = time.time() + 5
    while time.time() < deadline:  # its parent does not reap it: it stays a zombie
        try:
            if worker.status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    stop(pa)
    out = t.sample()
    assert "a" not in out
    assert worker.pid not in [c.pid for c in out["b"][0].children]


def test_socket_peers_zombies_and_missing_pids(tmp_path):
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 5
    while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE and time.time() < deadline:
        time.sleep(0.02)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        peers = {"pushed": {sleeper.pid}, "odd": {zombie.pid, 2**22 + 12345}, "init": {1}}
        t = ProcessTracker(lambda: {}, socket_peers=lambda: peers)
        out = t.sample()
        out = t.sample()
        assert [p.pid for p in out["pushed"]] == [sleeper.pid]
        assert "odd" not in out  # a zombie and a pid that does not exist are not shown
        (init,) = out["init"]  # another user's process: shown with what could be read
        assert init.pid == 1
    finally:
        sleeper.kill()
        sleeper.wait()
        zombie.wait()


def test_rescan_is_periodic_not_per_sample(two_runs, tmp_path):
    a, b, pa, pb = two_runs
    calls = []

    def files():
        calls.append(1)
        return {"a": [str(a)]}

    t = ProcessTracker(files, rescan_interval=60)
    for _ in range(5):
        t.sample()
    assert len(calls) == 1
    t.request_rescan()
    t.sample()
    assert len(calls) == 2 and t.scan_seconds > 0


def test_run_files_callback_failure_does_not_stop_sampling():
    def broken():
        raise RuntimeError("store is busy")

    assert ProcessTracker(broken).sample() == {}


def test_parent_map_matches_psutil(two_runs):
    a, b, pa, pb = two_runs
    parents = ppid_map()
    assert parents[pb.pid] == os.getpid() and parents[pa.pid] == os.getpid()
    assert sorted(descendants(pb.pid, parents)) == sorted(
        c.pid for c in psutil.Process(pb.pid).children(recursive=True)
    )
    assert descendants(pa.pid, parents) == []


def test_rescans_back_off_while_nothing_changes_and_come_back_for_a_new_writer(tmp_path):
    """An idle box is not walked every 10 s: each scan that finds the same writers doubles
    the interval (up to a cap); data for a run without a known writer, or a scan that finds
    a new one, brings it back to the base interval."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    pa = start_trainer(a / "metrics.csv")
    pb = None
    try:
        t = ProcessTracker(lambda: {"a": [str(a)], "b": [str(b)]}, rescan_interval=10,
                           children_interval=5, max_interval=60)
        t.rescan()
        assert set(t._found) == {"a"} and t._scan_every == 10
        for expected in (20, 40, 60, 60):
            t.rescan()
            assert t._scan_every == expected
        t.note_activity({"a"})  # a known writer: nothing changes
        assert t._scan_every == 60
        t.note_activity({"b"})  # "b" logs, but nobody is known to write it: look soon
        assert t._scan_every == 10 and t._next_scan <= t._last_scan + 10
        pb = start_trainer(b / "log.jsonl")
        t.rescan()
        assert set(t._found) == {"a", "b"} and t._scan_every == 10  # it changed: base again
    finally:
        stop(pa)
        if pb is not None:
            stop(pb)


def test_a_sample_before_any_log_file_is_known_does_not_delay_the_first_scan(tmp_path):
    """The first sample comes before the watcher found the logs: it walks nothing, and the
    first data for a run gets its writer looked up at the next sample (the trainer's line
    shows up at once, not a rescan interval later)."""
    a = tmp_path / "a"
    a.mkdir()
    pa = start_trainer(a / "metrics.csv")
    try:
        files: dict = {}
        t = ProcessTracker(lambda: files, rescan_interval=10)
        assert t.sample() == {}
        assert t.scan_seconds == 0.0  # /proc not walked
        files["a"] = [str(a)]
        t.note_activity({"a"})
        out = t.sample()
        assert set(out) == {"a"} and out["a"][0].pid == pa.pid
    finally:
        stop(pa)
