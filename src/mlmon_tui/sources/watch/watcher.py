"""Finds runs and files under the roots and tails them, off the UI thread.

Discovery uses watchdog (inotify on the folders: new, moved and deleted files); writes to
the files being read are seen through watches of their own that this thread reads itself
(`filewatch`). Known files are also swept by their own `poll()` (a stat, then only new
bytes) every few seconds (every `sweep_interval` those without a watch of their own, every
FULL_SWEEP-th time the others: their writes wake the watcher anyway), so truncation and
replacement are always seen. Where inotify is unavailable, not allowed, or the root is on a
network filesystem (where it misses remote writes), everything falls back to polling.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mlmon_tui.sources.logs import registry
from mlmon_tui.sources.base import Problem, Sink, Source, Update
from mlmon_tui.sources.watch.filewatch import FileWatches

NETWORK_FS = {"nfs", "nfs4", "lustre", "cifs", "smb3", "smbfs", "gpfs", "beegfs", "ceph",
              "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "9p", "afs", "panfs", "fuse.juicefs"}
MIN_READ_GAP = 0.25  # seconds between two reads of what changed
MAX_PROBE_BYTES_GROWTH = 3  # re-probe an ignored file a few times as it grows, then give up
FULL_SWEEP = 5  # files with an inotify watch of their own are swept every 5th sweep only


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem `path` lives on, from /proc/mounts (Linux), or None."""
    try:
        real = os.path.realpath(path)
        best, best_type = "", None
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                    best, best_type = mnt, parts[2]
        return best_type
    except OSError:
        return None


def _real(path: Path) -> Path | None:
    try:
        return Path(os.path.realpath(path, strict=True))
    except (OSError, RuntimeError):  # gone, or a link loop
        return None


def walk(root: Path):
    """The files under `root` a reader may want, each folder once: plain folders first, then
    folders reached through symbolic links whose real folder was not walked yet, and links
    to files last (the watcher skips those whose real file it reads already). A link that
    points back up (`ln -s .. up`, W&B's `latest-run`) or into a loop adds nothing."""
    seen: set[str] = set()
    links: list[Path] = []
    pending = [str(root)]
    while pending:
        top = pending.pop(0)
        real = os.path.realpath(top)
        if real in seen:
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            here = os.path.realpath(dirpath)
            if here in seen:
                dirnames[:] = []
                continue
            seen.add(here)
            parent = Path(dirpath)
            keep = []
            for d in sorted(dirnames):
                if registry.skip_dir(d, parent):
                    continue
                if os.path.islink(os.path.join(dirpath, d)):
                    pending.append(os.path.join(dirpath, d))
                else:
                    keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                if os.path.islink(os.path.join(dirpath, name)):
                    links.append(parent / name)  # after every file under its own name
                else:
                    yield parent / name
    yield from links


class Roots:
    """Maps files to run names. One root: names relative to it; several: prefixed by each
    root's own name so runs from different roots never collide."""

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self.paths = [Path(p).resolve() for p in paths]
        names = [p.name or str(p) for p in self.paths]
        self.prefix = {p: (n if len(self.paths) > 1 else "") for p, n in zip(self.paths, names)}

    def root_of(self, path: Path) -> Path:
        for root in sorted(self.paths, key=lambda r: len(str(r)), reverse=True):
            if path == root or root in path.parents:
                return root
        return self.paths[0]


class _Tracked:
    __slots__ = ("source", "prefix")

    def __init__(self, source: Source, prefix: str) -> None:
        self.source, self.prefix = source, prefix


def _prefixed(update: Update, prefix: str) -> Update:
    if not prefix:
        return update
    for b in update.scalars:
        b.run = f"{prefix}/{b.run}" if b.run != "." else prefix
    for h in update.histograms:
        h.run = f"{prefix}/{h.run}" if h.run != "." else prefix
    update.meta = {(f"{prefix}/{r}" if r != "." else prefix): m for r, m in update.meta.items()}
    return update


class Watcher:
    def __init__(
        self,
        roots: Iterable[str | Path],
        sink: Sink,
        *,
        poll: bool = False,
        sweep_interval: float = 2.0,
        on_change: Callable[[set], None] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.roots = Roots(roots)
        self.sink = sink  # the app hands in the store
        self.force_poll = poll
        self.sweep_interval = sweep_interval
        self.on_change = on_change
        self.on_tick = on_tick  # called on the watcher thread about every sweep
        self.mode = "starting"
        self.loaded = threading.Event()  # set once everything present at start was read
        self._sources: dict[Path, _Tracked] = {}
        self._ignored: dict[Path, tuple[int, int]] = {}  # path -> (size when probed, tries)
        self._real: set[Path] = set()  # real paths of the files read
        self._dirty: set[Path] = set()
        self._rescan = True
        self._wake = threading.Event()  # or the FileWatches, which also wake on writes
        self._files: FileWatches | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._observer = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self._start_observer()
        self._thread = threading.Thread(target=self._run, name="mlmon-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        obs, self._observer = self._observer, None
        if obs is not None:
            try:
                obs.stop()
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        for tracked in list(self._sources.values()):
            try:
                tracked.source.close()
            except Exception:
                pass
        if self._files is not None and (self._thread is None or not self._thread.is_alive()):
            self._files.close()

    def files(self) -> dict[str, list[str]]:
        """run name -> the files feeding it (for finding a run's processes)."""
        out: dict[str, list[str]] = {}
        with self._lock:
            items = list(self._sources.items())
        for path, t in items:
            run = t.source.run
            run = (f"{t.prefix}/{run}" if run != "." else t.prefix) if t.prefix else run
            out.setdefault(run, []).append(str(path))
        return out

    # -- the one-shot loader (check, export, screenshot) -------------------------------
    def load_once(self, max_rounds: int = 1000) -> None:
        """Read everything there is now, on the calling thread, then return."""
        if self.mode == "starting":
            self.mode = "read once"
        self._scan()
        for _ in range(max_rounds):
            if not self._sweep(list(self._sources), first=True):
                break
        self.loaded.set()

    # -- internals -------------------------------------------------------------------
    def _start_observer(self) -> None:
        if self.force_poll:
            self.mode = "polling (--poll)"
            return
        for root in self.roots.paths:
            fs = filesystem_type(root)
            if fs in NETWORK_FS:
                self.mode = f"polling ({fs} filesystem)"
                return
        try:
            from watchdog import events as ev
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers.inotify import InotifyObserver
        except Exception as e:  # not Linux, or watchdog without inotify
            self.mode = f"polling (no inotify: {e.__class__.__name__})"
            return
        try:
            self._files = FileWatches()
        except OSError:  # no inotify instance left: watchdog reports writes as well
            self._files = None
        # with watches of their own on the files, the folders need no write events
        structure = [ev.FileCreatedEvent, ev.DirCreatedEvent, ev.FileDeletedEvent,
                     ev.DirDeletedEvent, ev.FileMovedEvent, ev.DirMovedEvent]
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                with watcher._lock:
                    if event.is_directory or event.event_type in ("created", "moved", "deleted"):
                        watcher._rescan = True
                    for p in (event.src_path, getattr(event, "dest_path", "")):
                        if p:
                            watcher._dirty.add(Path(os.fsdecode(p)))
                watcher._wake.set()

        try:
            obs = InotifyObserver()
            for root in self.roots.paths:
                if self._files is not None:
                    obs.schedule(Handler(), str(root), recursive=True, event_filter=structure)
                else:
                    obs.schedule(Handler(), str(root), recursive=True)
            obs.daemon = True
            obs.start()
            self._observer = obs
            self.mode = "inotify"
            if self._files is not None:
                self._wake = self._files
        except Exception as e:  # watch limit reached, permission, ...
            if self._files is not None:
                self._files.close()
                self._files = None
            self.mode = "polling (inotify unavailable)"
            self.sink.add_problem(Problem(str(self.roots.paths[0]),
                                           f"inotify unavailable ({e}); polling instead"))

    def _run(self) -> None:
        try:
            self.load_once()
        except Exception as e:  # never let the thread die silently
            self.sink.add_problem(Problem("watcher", f"reading failed: {e!r}", "error"))
            self.loaded.set()
        interval = 0.5 if self._observer is None else self.sweep_interval
        last_sweep = last_scan = last_read = last_full = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(timeout=interval)
            if self._stop.is_set():
                break
            self._wake.clear()
            # let a burst of writes settle into one read, and read a busy file at most
            # MIN_READ_GAP apart: cost per new event falls, latency stays well under 1 s
            time.sleep(max(0.02, last_read + MIN_READ_GAP - time.monotonic()))
            now = last_read = time.monotonic()
            with self._lock:
                dirty, self._dirty = {registry.owner(p) for p in self._dirty}, set()
                rescan, self._rescan = self._rescan, False
            if self._files is not None:
                for p in dirty:  # created or moved here: perhaps another file than watched
                    if p in self._sources:
                        self._watch(p)
                dirty |= {registry.owner(p) for p in self._files.take()}
            try:
                if rescan or (self._observer is None and now - last_scan >= 5 * interval):
                    self._scan()
                    last_scan = now
                known = {p for p in dirty if p in self._sources or p in self._ignored}
                if now - last_sweep >= interval:
                    last_sweep = now
                    if self._files is None or now - last_full >= FULL_SWEEP * interval:
                        self._sweep(list(self._sources))
                        last_full = now
                    else:  # files with a watch of their own are swept less often
                        known.update(p for p in self._sources if p not in self._files)
                        self._sweep(sorted(known))
                elif known:
                    # name order: a run's event files are read oldest first
                    self._sweep(sorted(known))
                if self.on_tick is not None:
                    self.on_tick()
            except Exception as e:
                self.sink.add_problem(Problem("watcher", f"reading failed: {e!r}", "error"))

    def _scan(self) -> None:
        """Walk the roots for files not seen yet."""
        for root in self.roots.paths:
            if not root.exists():
                continue
            if root.is_file():
                self._consider(root, root.parent)
                continue
            for path in walk(root):
                self._consider(path, root)

    def _consider(self, path: Path, root: Path) -> None:
        if path in self._sources:
            return
        try:
            size = path.stat().st_size
        except OSError:
            return
        seen = self._ignored.get(path)
        if seen is not None and (seen[0] == size or seen[1] >= MAX_PROBE_BYTES_GROWTH):
            return
        real = _real(path)
        if real is None or (real != path and real in self._real):
            return  # a link to a file already read under its own name
        try:
            source = registry.open_source(path, root)
        except Exception as e:
            self.sink.add_problem(Problem(str(path), f"cannot open: {e}", "error"))
            source = None
        if source is None:
            tries = (seen[1] + 1) if seen else (0 if size == 0 else 1)
            self._ignored[path] = (size, tries)
            # probed again when it grows, a few times (a SQLite companion is watched for
            # its database)
            if self._files is not None and registry.owner(path) == path:
                if tries < MAX_PROBE_BYTES_GROWTH:
                    self._files.add(path)
                else:
                    self._files.discard(path)
            return
        self._ignored.pop(path, None)
        self._watch(path)
        self._real.add(real)
        with self._lock:
            # a root that is a file is considered under its folder: its prefix is its own
            prefix = self.roots.prefix.get(root, self.roots.prefix.get(path, ""))
            self._sources[path] = _Tracked(source, prefix)

    def _watch(self, path: Path) -> None:
        """Watch a file read (and its SQLite companions) for writes."""
        if self._files is None:
            return
        if not self._files.add(path) and self._files.failed:
            # the kernel's watch limit (fs.inotify.max_user_watches), or no permission
            self.mode = (f"inotify; {self._files.failed} files read every "
                         f"{self.sweep_interval:g} s (no inotify watch left for them)")
        for suffix in registry.COMPANION_SUFFIXES:
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                self._files.add(companion, owner=path)

    def _sweep(self, paths: list[Path], first: bool = False) -> bool:
        """Poll the given sources; apply what they found. True when anything was new.
        A long sweep tells what it has every 0.5 s; the first load tells its first file
        at once (the first frame), a live sweep tells everything once, at its end."""
        changed: set = set()
        got = False
        told = time.monotonic() - (0.5 if first else 0.0)
        for path in paths:
            if path in self._ignored and path not in self._sources:
                self._consider(path, self.roots.root_of(path))
            tracked = self._sources.get(path)
            if tracked is None:
                continue
            try:
                update = tracked.source.poll()
            except Exception as e:  # a reader bug must not stop the others
                update = Update(problems=[Problem(str(path), f"reader failed: {e!r}", "error")])
            if update:
                got = True
                changed |= self.sink.apply(_prefixed(update, tracked.prefix),
                                            kind=tracked.source.kind)
            if self._stop.is_set():
                break
            if changed and self.on_change is not None and time.monotonic() - told > 0.5:
                # a long first read (hundreds of runs): show what is there, then go on
                self.on_change(changed)
                changed, told = set(), time.monotonic()
        if changed and self.on_change is not None:
            self.on_change(changed)
        return got
