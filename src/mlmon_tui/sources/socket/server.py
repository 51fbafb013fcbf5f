"""The monitor's end of the metrics socket (protocol and file layout: `socket_protocol`).

One background thread runs a `selectors` loop over the listening socket and every client
(no thread per connection). Each valid metrics message is appended to its run's
`mlmon-socket.jsonl` under the log dir; the monitor's ordinary file watching then reads those
files, so the server never touches the store and a restarted monitor replays everything.
Writes are buffered and flushed every `FLUSH_EVERY` seconds and on stop.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import selectors
import socket
import struct
import threading
import time
from pathlib import Path

from mlmon_tui.sources.socket import bind
from mlmon_tui.sources.socket import protocol as proto
from mlmon_tui.sources.socket.bind import raise_nofile_limit
from mlmon_tui.sources.socket.files import RunFiles

__all__ = ["SocketServer", "raise_nofile_limit"]

log = logging.getLogger("mlmon_tui.socket")

FLUSH_EVERY = 0.2
RECV_SIZE = 1 << 16
COUNTERS = ("connections", "active", "messages", "hellos", "client_stats", "malformed_json",
            "bad_messages", "bad_values", "bad_run_names", "oversized_lines", "binary_junk",
            "idle_clients", "disconnected_midline", "dropped_by_client", "accept_errors",
            "write_errors", "internal_errors", "classifications")


class _Conn:
    __slots__ = ("sock", "buf", "discarding", "last", "run", "pid", "got_line")

    def __init__(self, sock: socket.socket, pid: int | None, now: float):
        self.sock = sock
        self.buf = bytearray()
        self.discarding = False
        self.last = now
        self.run: str | None = None
        self.pid = pid
        self.got_line = False


class SocketServer:
    """Receive metrics over `address` and append them to JSONL files under `logdir`.

    `address`: None for the default Unix socket under the log dir, else `unix:PATH` or
    `tcp:HOST:PORT` (port 0 picks a free one; `.address` tells which after `start()`).
    `start()` binds in the caller's thread, so a bad address or a live monitor already on
    the socket raises there (ValueError / RuntimeError / OSError), then runs the loop in a
    daemon thread. `stop()` flushes and returns within about two seconds.

    `stats` counters: connections (accepted in all), active (open now), messages (metrics
    lines written), hellos, client_stats, malformed_json, bad_messages (JSON but not a
    valid message), bad_values (metric values dropped), bad_run_names, oversized_lines
    (over 1 MiB, discarded up to the next newline), binary_junk (not UTF-8, or NUL bytes),
    idle_clients (closed after `idle_timeout` seconds of silence), disconnected_midline
    (closed with a partial line, which is not written), dropped_by_client (sum of what
    clients reported losing), accept_errors, write_errors, internal_errors, classifications
    (curve and confusion-matrix messages written).
    `peers`: run -> process ids sending to it (SO_PEERCRED on Unix sockets, and the pid
    a hello states). Memory per connection is bounded by one line (1 MiB + one read).
    """

    def __init__(self, logdir: Path, address: str | None = None, allow_remote: bool = False,
                 idle_timeout: float = 60.0):
        self.logdir = Path(logdir)
        self.root_real = os.path.realpath(self.logdir)
        self.allow_remote = allow_remote
        self.idle_timeout = idle_timeout
        self.warnings: list[str] = []
        self._requested = address
        self.address: str | None = None
        self._unix_path: Path | None = None
        self._unix_ino: tuple[int, int] | None = None
        self._stats = dict.fromkeys(COUNTERS, 0)
        self._peers: dict[str, set[int]] = {}
        self._client_drops: dict[tuple, int] = {}
        self._meta: dict[str, dict] = {}
        self._files = RunFiles(self.root_real, self._count)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._sel: selectors.BaseSelector | None = None
        self._conns: dict[int, _Conn] = {}
        self._accept_paused_until = 0.0

    # --- public ------------------------------------------------------------------------------
    @property
    def stats(self) -> dict:
        with self._lock:
            return dict(self._stats)

    @property
    def peers(self) -> dict[str, set[int]]:
        with self._lock:
            return {run: set(pids) for run, pids in self._peers.items()}

    def start(self) -> "SocketServer":
        """Bind (errors raise here, in the caller) and start the background loop."""
        raise_nofile_limit()
        self.logdir.mkdir(parents=True, exist_ok=True)
        if self._requested is None:
            kind, where = "unix", proto.default_unix_path(self.logdir)
        else:
            kind, where = proto.parse_address(self._requested)
        if kind == "unix":
            self._listener, self._unix_path, self._unix_ino = bind.bind_unix(Path(where))
            self.address = f"unix:{self._unix_path}"
        else:
            self._listener, self.address, warning = bind.bind_tcp(*where, self.allow_remote)
            if warning:
                self.warnings.append(warning)
        warning = bind.write_address_file(self.logdir, self.address)
        if warning:
            self.warnings.append(warning)
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._listener, selectors.EVENT_READ, "listen")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._run, name="mlmon-socket", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the loop, flush and close everything. Returns within about `timeout`."""
        if self._thread is None:
            return
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- binding -----------------------------------------------------------------------------
    # --- loop --------------------------------------------------------------------------------
    def _run(self) -> None:
        last_flush = last_idle = time.monotonic()
        try:
            while not self._stop.is_set():
                events = self._sel.select(timeout=FLUSH_EVERY / 2)
                now = time.monotonic()
                for key, _ in events:
                    if key.data == "listen":
                        if now >= self._accept_paused_until:
                            self._accept(now)
                    elif key.data == "wake":
                        try:
                            self._wake_r.recv(64)
                        except OSError:
                            pass
                    else:
                        self._read(key.data, now)
                if now - last_flush >= FLUSH_EVERY:
                    self._files.flush()
                    last_flush = now
                if now - last_idle >= min(1.0, self.idle_timeout / 2):
                    self._reap_idle(now)
                    last_idle = now
        except Exception:  # never let the thread die silently
            log.exception("socket server loop failed")
        finally:
            self._shutdown()

    def _accept(self, now: float) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._count("accept_errors")
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._accept_paused_until = now + 0.1  # let clients finish first
                return
            sock.setblocking(False)
            pid = None
            if sock.family == socket.AF_UNIX:
                try:
                    cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                           struct.calcsize("3i"))
                    pid = struct.unpack("3i", cred)[0] or None
                except (OSError, AttributeError):
                    pid = None
            conn = _Conn(sock, pid, now)
            self._conns[sock.fileno()] = conn
            self._sel.register(sock, selectors.EVENT_READ, conn)
            with self._lock:
                self._stats["connections"] += 1
                self._stats["active"] += 1

    def _read(self, conn: _Conn, now: float) -> bool:
        """Read once from `conn`; False when nothing more is to be had now."""
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:
            if conn.buf or conn.discarding:
                self._count("disconnected_midline")
            self._close(conn)
            return False
        conn.last = now
        buf = conn.buf
        buf += data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            if conn.discarding:
                conn.discarding = False
            else:
                try:
                    self._line(conn, bytes(buf[start:nl]), now)
                except Exception:  # one message must never stop the server
                    log.exception("socket message handling failed")
                    self._count("internal_errors")
            start = nl + 1
        if start:
            del buf[:start]
        if len(buf) > proto.MAX_LINE:
            if not conn.discarding:
                self._count("oversized_lines")
            conn.discarding = True
            buf.clear()
        return True

    def _line(self, conn: _Conn, raw: bytes, now: float) -> None:
        conn.got_line = True
        raw = raw.strip()
        if not raw:
            return
        if len(raw) > proto.MAX_LINE:
            self._count("oversized_lines")
            return
        if b"\x00" in raw:
            self._count("binary_junk")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._count("binary_junk")
            return
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            self._count("malformed_json")
            return
        if not isinstance(obj, dict):
            self._count("bad_messages")
            return
        kind = obj.get("type", "metrics")
        if kind == "metrics":
            self._metrics(conn, obj)
        elif kind == "hello":
            self._hello(conn, obj)
        elif kind == "stats":
            self._client_stats(conn, obj)
        elif kind == "classification":
            self._classification(conn, obj)
        else:
            self._count("bad_messages")

    def _metrics(self, conn: _Conn, obj: dict) -> None:
        try:
            run, step, wall, metrics, bad = proto.parse_metrics(obj, conn.run, time.time())
        except proto.ProtocolError as e:
            self._count(e.counter)
            return
        hists, bad_h = proto.parse_histograms(obj)
        if bad or bad_h:
            self._count("bad_values", bad + bad_h)
        f = self._files.writer(run)
        if f is None:
            return
        try:
            f.write(proto.encode_record(step, wall, metrics, hists))
        except (OSError, ValueError):
            self._count("write_errors")
            return
        with self._lock:
            self._stats["messages"] += 1
            if conn.pid is not None:
                self._peers.setdefault(run, set()).add(conn.pid)

    def _classification(self, conn: _Conn, obj: dict) -> None:
        try:
            run, step, wall, c = proto.parse_classification(obj, conn.run, time.time())
        except proto.ProtocolError as e:
            self._count(e.counter)
            return
        f = self._files.writer(run)
        if f is None:
            return
        try:
            f.write(proto.encode_classification(step, wall, c))
        except (OSError, ValueError, TypeError):
            self._count("write_errors")
            return
        self._count("classifications")

    def _hello(self, conn: _Conn, obj: dict) -> None:
        run = obj.get("run", conn.run)
        if proto.check_run_name(run) is None:
            self._count("bad_run_names")
            return
        conn.run = run
        pid = obj.get("pid")
        meta = self._meta.setdefault(run, {"run": run, "pids": []})
        for key in ("host", "hparams", "meta"):
            if key in obj:
                meta[key] = obj[key]
        pids = {p for p in (conn.pid, pid) if isinstance(p, int) and not isinstance(p, bool)}
        for p in pids:
            if p not in meta["pids"]:
                meta["pids"].append(p)
        with self._lock:
            self._stats["hellos"] += 1
            if pids:
                self._peers.setdefault(run, set()).update(pids)
        self._files.write_meta(run, self._meta[run])

    def _client_stats(self, conn: _Conn, obj: dict) -> None:
        run = obj.get("run", conn.run)
        dropped = obj.get("dropped", 0)
        if (proto.check_run_name(run) is None or isinstance(dropped, bool)
                or not isinstance(dropped, int) or dropped < 0):
            self._count("bad_messages")
            return
        client = obj.get("client")
        # the counter is cumulative per client: key it so a reconnect does not count twice
        key = (run, obj.get("pid", conn.pid), client) if client else (run, id(conn))
        with self._lock:
            prev = self._client_drops.get(key, 0)
            self._client_drops[key] = dropped
            self._stats["client_stats"] += 1
            self._stats["dropped_by_client"] += max(0, dropped - prev)
        if dropped != prev:
            meta = self._meta.setdefault(run, {"run": run, "pids": []})
            meta["dropped_by_client"] = meta.get("dropped_by_client", 0) + max(0, dropped - prev)
            self._files.write_meta(run, self._meta[run])

    # --- housekeeping ------------------------------------------------------------------------
    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._stats[name] += n

    def _reap_idle(self, now: float) -> None:
        for conn in list(self._conns.values()):
            if now - conn.last > self.idle_timeout:
                self._count("idle_clients")
                if conn.buf or conn.discarding:
                    self._count("disconnected_midline")
                self._close(conn)

    def _close(self, conn: _Conn) -> None:
        self._conns.pop(conn.sock.fileno(), None)
        try:
            self._sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        with self._lock:
            self._stats["active"] -= 1

    def _shutdown(self) -> None:
        now = time.monotonic()
        for conn in list(self._conns.values()):
            for _ in range(64):  # take what clients already sent before closing on them
                if not self._read(conn, now):
                    break
            if conn.sock.fileno() >= 0:
                if conn.buf or conn.discarding:
                    self._count("disconnected_midline")
                self._close(conn)
        self._files.close()
        for s in (self._listener, self._wake_r, self._wake_w):
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self._sel.close()
        bind.cleanup(self.logdir, self.address, self._unix_path, self._unix_ino)
