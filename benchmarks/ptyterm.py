"""A minimal terminal for benchmarks: run a program on a real pty of a given size, count
every byte it writes, read its CPU time, and send it keys, phase by phase."""

from __future__ import annotations

import os
import pty
import select
import signal
import struct
import sys
import time
from collections.abc import Callable


def spawn(argv: list[str], cols: int = 160, rows: int = 48,
          env: dict | None = None) -> tuple[int, int]:
    """Start `argv` on a new pty of `cols` x `rows`; returns (pid, master fd)."""
    pid, fd = pty.fork()
    if pid == 0:
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        e = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", **(env or {}))
        e.pop("NO_COLOR", None)
        os.execve(argv[0], argv, e)
    return pid, fd


def stop(pid: int, fd: int, keys: bytes = b"q", timeout: float = 5.0) -> None:
    """Type `keys` (the program's quit key), drain its output until it exits, or kill it."""
    os.write(fd, keys)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            break
        if select.select([fd], [], [], 0.1)[0]:
            try:
                os.read(fd, 65536)
            except OSError:
                pass
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)


def run_phases(argv: list[str], phases: list[tuple[str, float, Callable[[], None] | None]],
               cols: int = 160, rows: int = 48, env: dict | None = None,
               quit_keys: bytes = b"q") -> dict[str, dict]:
    """Start `argv` on a pty, then for each (name, seconds, action): run `action` (if any,
    e.g. start a writer or press a key via `send`), wait `seconds` while counting output.
    Returns {name: {"Bps": bytes per second, "cpu": share of one core, "bytes": total}}."""
    import psutil

    pid, fd = spawn(argv, cols, rows, env)
    run_phases.fd = fd
    proc = psutil.Process(pid)
    out: dict[str, dict] = {}
    try:
        for name, seconds, action in phases:
            if action is not None:
                action()
            ct = proc.cpu_times()
            c0, t0, n = ct.user + ct.system, time.monotonic(), 0
            while time.monotonic() - t0 < seconds:
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        n += len(os.read(fd, 65536))
                    except OSError:
                        break
            ct = proc.cpu_times()
            dt = time.monotonic() - t0
            out[name] = {"Bps": n / dt, "cpu": (ct.user + ct.system - c0) / dt, "bytes": n}
    finally:
        stop(pid, fd, quit_keys)
    return out


def send(keys: bytes) -> None:
    """Type `keys` into the program started by the running `run_phases`."""
    os.write(run_phases.fd, keys)


if __name__ == "__main__":
    print(run_phases([sys.executable, "-c", "import time; print('hi'); time.sleep(1)"],
                     [("all", 1.5, None)]))
