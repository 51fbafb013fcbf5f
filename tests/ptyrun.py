"""Run a command in a real pseudo-terminal and keep every byte it writes to it."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
import time


class PtyProcess:
    def __init__(self, argv: list[str], env: dict, cols: int = 120, rows: int = 36) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._buf += data

    @property
    def output(self) -> bytes:
        with self._lock:
            return bytes(self._buf)

    def wait_for(self, needle: bytes, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.output:
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)
                return needle in self.output
            time.sleep(0.05)
        return False

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        """Ask it to quit, then make sure the whole session is gone."""
        if self.proc.poll() is None:
            try:
                self.send(b"q")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        try:
            os.close(self.master)
        except OSError:
            pass
