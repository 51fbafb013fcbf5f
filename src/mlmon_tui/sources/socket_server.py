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
import resource
import selectors
import socket
import stat
import struct
import threading
import time
from pathlib import Path

from mlmon_tui.sources import socket_protocol as proto

log = logging.getLogger("mlmon_tui.socket")

FLUSH_EVERY = 0.2
RECV_SIZE = 1 << 16
MAX_OPEN_FILES = 128
COUNTERS = ("connections", "active", "messages", "hellos", "client_stats", "malformed_json",
            "bad_messages", "bad_values", "bad_run_names", "oversized_lines", "binary_junk",
            "idle_clients", "disconnected_midline", "dropped_by_client", "accept_errors",
            "write_errors")


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


def raise_nofile_limit() -> int:
    """Raise the soft open-files limit to the hard one; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard
        except (ValueError, OSError):
            pass
    return soft


def _private_dir(path: Path) -> None:
    """Create `path` as a 0700 directory, or check an existing one is ours and make it 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise RuntimeError(f"{path} is not a directory owned by this user; refusing to use it")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)


class SocketServer:
    """Receive metrics over `address` and append them to JSONL files under `logdir`."""

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
        self._files: dict[str, object] = {}
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
            path = proto.default_unix_path(self.logdir)
            self._listener = self._bind_unix(path)
        else:
            kind, where = proto.parse_address(self._requested)
            if kind == "unix":
                self._listener = self._bind_unix(Path(where))
            else:
                self._listener = self._bind_tcp(*where)
        self._write_address_file()
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
    def _bind_unix(self, path: Path) -> socket.socket:
        path = Path(os.path.abspath(path))
        if len(os.fsencode(str(path))) > proto.UNIX_PATH_MAX:
            raise ValueError(f"Unix socket path is {len(os.fsencode(str(path)))} bytes, over the "
                             f"limit of {proto.UNIX_PATH_MAX}: {path}")
        _private_dir(path.parent)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None:
            if not stat.S_ISSOCK(st.st_mode):
                raise RuntimeError(f"{path} exists and is not a socket; not replacing it")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.settimeout(1.0)
            try:
                probe.connect(str(path))
            except (ConnectionRefusedError, FileNotFoundError):
                os.unlink(path)  # stale: left by a monitor that died
                log.info("replaced stale socket %s", path)
            except OSError as e:
                raise RuntimeError(f"cannot tell whether {path} is in use: {e}") from e
            else:
                raise RuntimeError(f"another monitor is already listening on {path}")
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(path))
            os.chmod(path, 0o600)
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        st = os.stat(path)
        self._unix_path, self._unix_ino = path, (st.st_dev, st.st_ino)
        self.address = f"unix:{path}"
        return sock

    def _bind_tcp(self, host: str, port: int) -> socket.socket:
        if not proto.is_loopback(host):
            if not self.allow_remote:
                raise ValueError(
                    f"refusing to listen on non-loopback address {host}: anyone who can reach "
                    "it could write into the log dir; use tcp:127.0.0.1:PORT or allow remote "
                    "connections explicitly")
            msg = (f"listening on non-loopback address {host}:{port}; any host that can reach "
                   "it can send metrics")
            self.warnings.append(msg)
            log.warning(msg)
        host = "127.0.0.1" if host == "localhost" else host
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        h, p = sock.getsockname()[:2]
        self.address = f"tcp:[{h}]:{p}" if fam == socket.AF_INET6 else f"tcp:{h}:{p}"
        return sock

    def _write_address_file(self) -> None:
        d = self.logdir / proto.SOCKET_DIR
        try:
            _private_dir(d)
            tmp = d / (proto.ADDRESS_FILE + ".tmp")
            tmp.write_text(self.address + "\n")
            os.replace(tmp, d / proto.ADDRESS_FILE)
        except (OSError, RuntimeError) as e:
            self.warnings.append(f"could not write the address file in {d}: {e}")

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
                    self._flush()
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
                self._line(conn, bytes(buf[start:nl]), now)
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
        else:
            self._count("bad_messages")

    def _metrics(self, conn: _Conn, obj: dict) -> None:
        try:
            run, step, wall, metrics, bad = proto.parse_metrics(obj, conn.run, time.time())
        except proto.ProtocolError as e:
            self._count(e.counter)
            return
        if bad:
            self._count("bad_values", bad)
        f = self._file(run)
        if f is None:
            return
        try:
            f.write(proto.encode_record(step, wall, metrics))
        except (OSError, ValueError):
            self._count("write_errors")
            return
        with self._lock:
            self._stats["messages"] += 1
            if conn.pid is not None:
                self._peers.setdefault(run, set()).add(conn.pid)

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
        self._write_meta(run)

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
            self._write_meta(run)

    # --- files -------------------------------------------------------------------------------
    def _file(self, run: str):
        f = self._files.get(run)
        if f is not None:
            return f
        d = proto.run_dir(self.root_real, run)
        if d is None:
            self._count("bad_run_names")
            return None
        try:
            os.makedirs(d, exist_ok=True)
            if proto.run_dir(self.root_real, run) != d:  # raced with a symlink
                self._count("bad_run_names")
                return None
            fd = os.open(os.path.join(d, proto.DATA_FILE),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o644)
            f = os.fdopen(fd, "a", encoding="utf-8", buffering=1 << 16)
        except OSError:
            self._count("write_errors")
            return None
        if len(self._files) >= MAX_OPEN_FILES:
            old = next(iter(self._files))
            self._close_file(self._files.pop(old))
        self._files[run] = f
        return f

    def _write_meta(self, run: str) -> None:
        d = proto.run_dir(self.root_real, run)
        if d is None:
            return
        try:
            os.makedirs(d, exist_ok=True)
            tmp = os.path.join(d, "." + proto.META_FILE + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self._meta[run], f, default=str)
            os.replace(tmp, os.path.join(d, proto.META_FILE))
        except (OSError, ValueError, TypeError):
            self._count("write_errors")

    def _close_file(self, f) -> None:
        try:
            f.close()
        except OSError:
            self._count("write_errors")

    def _flush(self) -> None:
        for f in self._files.values():
            try:
                f.flush()
            except OSError:
                self._count("write_errors")

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
        for f in self._files.values():
            self._close_file(f)
        self._files.clear()
        for s in (self._listener, self._wake_r, self._wake_w):
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self._sel.close()
        if self._unix_path is not None:
            try:
                st = os.stat(self._unix_path)
                if (st.st_dev, st.st_ino) == self._unix_ino:
                    os.unlink(self._unix_path)
            except OSError:
                pass
        try:
            addr_file = self.logdir / proto.SOCKET_DIR / proto.ADDRESS_FILE
            if addr_file.read_text().strip() == self.address:
                addr_file.unlink()
        except OSError:
            pass
