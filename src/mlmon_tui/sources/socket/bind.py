"""Opening the metrics socket safely: private Unix sockets, stale-socket recovery, loopback
TCP unless remote access is asked for, and the address file clients read."""

from __future__ import annotations

import logging
import os
import resource
import socket
import stat
from pathlib import Path

from mlmon_tui.sources.socket import protocol as proto

log = logging.getLogger("mlmon_tui.socket")


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


def private_dir(path: Path) -> None:
    """Create `path` as a 0700 directory, or check an existing one is ours and make it 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise RuntimeError(f"{path} is not a directory owned by this user; refusing to use it")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)


def bind_unix(path: Path) -> tuple[socket.socket, Path, tuple[int, int]]:
    """A listening, non-blocking Unix socket at `path` (mode 0600, in a 0700 directory).
    A stale socket file (nobody accepts on it) is replaced; a live one raises RuntimeError.
    Returns the socket, the absolute path and the file's (device, inode)."""
    path = Path(os.path.abspath(path))
    n = len(os.fsencode(str(path)))
    if n > proto.UNIX_PATH_MAX:
        raise ValueError(f"Unix socket path is {n} bytes, over the limit of "
                         f"{proto.UNIX_PATH_MAX}: {path}")
    private_dir(path.parent)
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
        os.chmod(path, 0o600)  # the 0700 directory already keeps others out meanwhile
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    st = os.stat(path)
    return sock, path, (st.st_dev, st.st_ino)


def bind_tcp(host: str, port: int, allow_remote: bool) -> tuple[socket.socket, str, str | None]:
    """A listening, non-blocking TCP socket. Returns it, its address (`tcp:HOST:PORT` with
    the real port) and a warning when it listens beyond loopback (only with allow_remote)."""
    warning = None
    if not proto.is_loopback(host):
        if not allow_remote:
            raise ValueError(
                f"refusing to listen on non-loopback address {host}: anyone who can reach "
                "it could write into the log dir; use tcp:127.0.0.1:PORT or allow remote "
                "connections explicitly")
        warning = (f"listening on non-loopback address {host}:{port}; any host that can "
                   "reach it can send metrics")
        log.warning(warning)
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
    return sock, (f"tcp:[{h}]:{p}" if fam == socket.AF_INET6 else f"tcp:{h}:{p}"), warning


def write_address_file(logdir: Path, address: str) -> str | None:
    """Write `address` to `<logdir>/.mlmon/address`; a warning string if that failed."""
    d = logdir / proto.SOCKET_DIR
    try:
        private_dir(d)
        tmp = d / (proto.ADDRESS_FILE + ".tmp")
        tmp.write_text(address + "\n")
        os.replace(tmp, d / proto.ADDRESS_FILE)
    except (OSError, RuntimeError) as e:
        return f"could not write the address file in {d}: {e}"
    return None


def cleanup(logdir: Path, address: str, unix_path: Path | None, ino) -> None:
    """Remove our socket file (only if it is still ours) and our address file."""
    if unix_path is not None:
        try:
            st = os.stat(unix_path)
            if (st.st_dev, st.st_ino) == ino:
                os.unlink(unix_path)
        except OSError:
            pass
    try:
        addr_file = logdir / proto.SOCKET_DIR / proto.ADDRESS_FILE
        if addr_file.read_text().strip() == address:
            addr_file.unlink()
    except OSError:
        pass
