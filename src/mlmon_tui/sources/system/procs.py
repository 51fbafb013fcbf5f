"""Which processes belong to which run, and what they use.

A run's processes are those that hold one of its log files open *for writing* (a reader such
as this monitor or `tail -f` does not count), plus those connected to the metrics socket for
it, plus all their descendants (DataLoader workers). Finding writers means reading every
`/proc/<pid>/fd` link, about 20 ms with 280 processes (and the process tree's parent map
about as much), so they run on demand or every `rescan_interval` (`children_interval`)
seconds, an interval that doubles, up to `max_interval`, while the answer stays the same (an
idle box is not walked every few seconds), and comes back down when it changes or when data
arrives for a run whose writer is not known (`note_activity`); the per-tick sample only
re-reads the known processes.

Processes that exit between two samples or belong to another user are skipped or shown with
the fields that could be read; nothing here raises for them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

import psutil

from mlmon_tui.records.system import _EMPTY, ProcInfo

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess)


def _writer(pid: str, fd: str) -> bool:
    """Whether fd is open for writing (O_WRONLY or O_RDWR), from /proc/<pid>/fdinfo."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", "rb") as f:
            for line in f:
                if line.startswith(b"flags:"):
                    return int(line.split()[1], 8) & 3 in (1, 2)
    except (OSError, ValueError, IndexError):
        pass
    return False


def scan_writers(
    run_files: Mapping[str, Iterable[str]], exclude: Iterable[int] = ()
) -> dict[str, set[int]]:
    """{run: pids holding one of its paths open for writing}. A path that is a directory
    matches every file below it. Unreadable processes (other users) are skipped."""
    files: dict[str, set[str]] = {}
    dirs: dict[str, set[str]] = {}
    for run, paths in run_files.items():
        for p in paths:
            real = os.path.realpath(p)
            (dirs if os.path.isdir(real) else files).setdefault(real, set()).add(run)
    if not files and not dirs:
        return {}
    prefix = os.path.commonpath(list(files) + list(dirs))
    if prefix in files:  # a single file: its directory is the common prefix
        prefix = os.path.dirname(prefix)
    skip = {str(p) for p in exclude}
    found: dict[str, set[int]] = {}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit() and p not in skip]
    except OSError:
        return {}
    for pid in pids:
        base = f"/proc/{pid}/fd/"
        try:
            fds = os.listdir(base)
        except OSError:  # gone, or another user's process
            continue
        for fd in fds:
            try:
                target = os.readlink(base + fd)
            except OSError:
                continue
            if not target.startswith(prefix):
                continue
            runs = files.get(target)
            if runs is None and dirs:
                parent, runs = os.path.dirname(target), set()
                while len(parent) >= len(prefix):
                    runs |= dirs.get(parent, set())
                    if parent == "/":
                        break
                    parent = os.path.dirname(parent)
            if runs and _writer(pid, fd):
                for run in runs:
                    found.setdefault(run, set()).add(int(pid))
    return found


def ppid_map() -> dict[int, int]:
    """{pid: parent pid} for every process, in one pass over /proc/<pid>/stat (about 3x
    cheaper than psutil.process_iter(["ppid"]), see benchmarks/sample_cost.py); psutil's
    where /proc is not there."""
    if not os.path.isdir("/proc/self"):
        return {p.pid: p.info["ppid"] for p in psutil.process_iter(["ppid"])}
    out: dict[int, int] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
            # the name (field 2) may hold spaces and parentheses: parse after the last ')'
            out[int(pid)] = int(data[data.rindex(b")") + 2 :].split(None, 2)[1])
        except (OSError, ValueError, IndexError):
            continue
    return out


def descendants(pid: int, parents: Mapping[int, int]) -> list[int]:
    kids: dict[int, list[int]] = {}
    for child, parent in parents.items():
        kids.setdefault(parent, []).append(child)
    out, stack = [], [pid]
    while stack:
        for c in kids.get(stack.pop(), ()):
            out.append(c)
            stack.append(c)
    return out


class ProcessTracker:
    """`run_files()` gives {run: [log files or run directories]}; `socket_peers()` gives
    {run: pids connected to the metrics socket}. `sample()` returns {run: [ProcInfo]}, one
    entry per top process with its descendants as `children`."""

    def __init__(
        self,
        run_files: Callable[[], Mapping[str, Iterable[str]]],
        socket_peers: Callable[[], Mapping[str, set[int]]] | None = None,
        rescan_interval: float = 10.0,
        children_interval: float = 5.0,
        max_interval: float = 60.0,
    ) -> None:
        self._run_files = run_files
        self._socket_peers = socket_peers
        self.rescan_interval = rescan_interval
        self.children_interval = children_interval
        self.max_interval = max(max_interval, rescan_interval, children_interval)
        self._scan_every = rescan_interval  # the current interval (backs off when idle)
        self._children_every = children_interval
        self._last_scan = -float("inf")
        self._found: dict[str, set[int]] = {}
        self._tree: dict[str, dict[int, list[int]]] = {}  # run -> {root: [descendants]}
        self._next_scan = 0.0
        self._next_children = 0.0
        self._procs: dict[int, psutil.Process] = {}
        self._primed: set[int] = set()
        self.scan_seconds = 0.0  # cost of the last /proc scan

    def request_rescan(self) -> None:
        self._next_scan = 0.0

    def note_activity(self, runs: Iterable[str]) -> None:
        """Data arrived for `runs`: one without a known writer gets a scan soon (at most
        one per `rescan_interval`), whatever the backed-off interval."""
        if any(run not in self._found for run in runs):
            self._scan_every = self.rescan_interval
            self._next_scan = min(self._next_scan, self._last_scan + self.rescan_interval)

    def rescan(self) -> dict[str, set[int]]:
        t0 = time.perf_counter()
        try:
            files = dict(self._run_files())
        except Exception:  # the caller's callback must not stop sampling
            files = {}
        if not files and not self._found:
            # no log file known yet (the first load is still looking): nothing to walk /proc
            # for, and no back-off: the first data for a run (`note_activity`) asks for a
            # scan at once, not a rescan_interval after this one
            self._next_scan = time.monotonic() + self._scan_every
            return {}
        found = scan_writers(files, exclude=(os.getpid(),))
        same = found == self._found
        self._found = found
        self.scan_seconds = time.perf_counter() - t0
        self._scan_every = (min(self._scan_every * 2, self.max_interval) if same
                            else self.rescan_interval)
        self._last_scan = time.monotonic()
        self._next_scan = self._last_scan + self._scan_every
        if not same:
            self._next_children = 0.0
        return {run: set(p) for run, p in self._found.items()}

    def _proc(self, pid: int) -> psutil.Process | None:
        p = self._procs.get(pid)
        if p is not None and p.is_running():
            return p
        self._primed.discard(pid)
        try:
            p = self._procs[pid] = psutil.Process(pid)
        except _GONE + (psutil.AccessDenied,):
            self._procs.pop(pid, None)
            return None
        return p

    def _build_tree(self, roots_by_run: Mapping[str, set[int]]) -> None:
        tree: dict[str, dict[int, list[int]]] = {}
        parents = ppid_map() if roots_by_run else {}
        for run, pids in roots_by_run.items():
            below_root = {pid: descendants(pid, parents) for pid in pids if pid in parents}
            below = {c for kids in below_root.values() for c in kids}
            # a forked worker inherits its parent's log file: it is a child, not a second root
            tree[run] = {r: kids for r, kids in below_root.items() if r not in below}
        self._tree = tree

    def _info(self, pid: int, gpu: Mapping[int, Mapping[int, int]]) -> ProcInfo | None:
        p = self._proc(pid)
        if p is None:
            return None
        name, cpu, rss = "?", None, None
        try:
            with p.oneshot():
                try:
                    zombie = p.status() == psutil.STATUS_ZOMBIE
                except psutil.AccessDenied:
                    zombie = False
                if zombie:  # exited, not yet reaped: gone
                    raise psutil.ZombieProcess(pid)
                try:
                    name = p.name()
                except psutil.AccessDenied:
                    pass
                try:
                    cpu = p.cpu_percent(interval=None)
                    if pid not in self._primed:
                        self._primed.add(pid)
                        cpu = None  # the first reading has nothing to compare with
                except psutil.AccessDenied:
                    pass
                try:
                    rss = p.memory_info().rss
                except psutil.AccessDenied:
                    pass
        except _GONE:
            self._procs.pop(pid, None)
            return None
        mem = gpu.get(pid)
        return ProcInfo(pid, name, cpu, rss, MappingProxyType(dict(mem)) if mem else _EMPTY)

    def sample(
        self, gpu_mem_by_pid: Mapping[int, Mapping[int, int]] | None = None
    ) -> dict[str, tuple[ProcInfo, ...]]:
        now = time.monotonic()
        if now >= self._next_scan:
            self.rescan()
        roots = {run: set(p) for run, p in self._found.items()}
        if self._socket_peers is not None:
            try:
                peers = self._socket_peers() or {}
            except Exception:
                peers = {}
            for run, pids in peers.items():
                roots.setdefault(run, set()).update(pids)
        known = {run: set(t) | {c for k in t.values() for c in k} for run, t in self._tree.items()}
        if now >= self._next_children or any(not r <= known.get(run, set()) for run, r in roots.items()):
            before = self._tree
            self._build_tree(roots)
            self._children_every = (min(self._children_every * 2, self.max_interval)
                                    if self._tree == before else self.children_interval)
            self._next_children = now + self._children_every
        gpu = gpu_mem_by_pid or {}
        out: dict[str, tuple[ProcInfo, ...]] = {}
        alive: set[int] = set()
        seen: dict[int, ProcInfo | None] = {}  # one process writing many runs is read once

        def info(pid: int) -> ProcInfo | None:
            if pid not in seen:
                seen[pid] = self._info(pid, gpu)
            return seen[pid]

        for run, tree in self._tree.items():
            infos = []
            for root, kids in tree.items():
                top = info(root)
                if top is None:
                    continue
                children = tuple(c for c in (info(k) for k in kids) if c is not None)
                alive.add(root)
                alive.update(c.pid for c in children)
                infos.append(
                    ProcInfo(top.pid, top.name, top.cpu_percent, top.rss, top.gpu_mem, children)
                )
            if infos:
                out[run] = tuple(infos)
        for pid in [p for p in self._procs if p not in alive]:
            del self._procs[pid]
            self._primed.discard(pid)
        return out
