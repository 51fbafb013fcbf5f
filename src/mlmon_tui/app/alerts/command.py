"""`--on-finding CMD`: run CMD through the shell with the finding as JSON on its standard input
and MLMON_* in its environment; a command that outlives its timeout is killed with its whole
process group."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading

from mlmon_tui.app.alerts.channel import Channel, Outcome

TIMEOUT_S = 10.0
KILL_GRACE_S = 1.0  # between SIGTERM and SIGKILL
OUTPUT_KEPT = 300  # characters of a failing command's output kept for the diagnostics


class CommandChannel(Channel):
    name = "on-finding"
    # a command may well exit non-zero on purpose (a filter); only hanging ones cost time
    give_up_on = ("timed out",)

    def __init__(self, command: str, *, timeout: float = TIMEOUT_S,
                 kill_grace: float = KILL_GRACE_S, **kw) -> None:
        super().__init__(**kw)
        self.command = command
        self.timeout = timeout
        self.kill_grace = kill_grace
        self._proc: subprocess.Popen | None = None
        self._plock = threading.Lock()

    def describe(self) -> str:
        cmd = self.command if len(self.command) <= 60 else self.command[:59] + "…"
        return f"on-finding `{cmd}`"

    def deliver(self, job) -> tuple[str, str]:
        body, env = job
        with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as output:
            # files, not pipes: nothing blocks on a command that does not read its input, and
            # a grandchild holding the output open cannot make us wait
            stdin.write(body)
            stdin.seek(0)
            try:
                proc = subprocess.Popen(
                    self.command, shell=True, stdin=stdin, stdout=output,
                    stderr=subprocess.STDOUT, env={**os.environ, **env},
                    start_new_session=True)
            except OSError as e:
                return Outcome.FAILED, f"could not start: {e}"
            with self._plock:
                self._proc = proc
            try:
                rc = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                return Outcome.TIMED_OUT, f"still running after {self.timeout:g} s: killed"
            finally:
                with self._plock:
                    self._proc = None
            if rc == 0:
                return Outcome.SENT, ""
            output.seek(0)
            tail = output.read()[-4096:].decode(errors="replace").strip().splitlines()
            last = tail[-1][:OUTPUT_KEPT] if tail else ""
            why = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
            return Outcome.FAILED, why + (f": {last}" if last else "")

    def _kill(self, proc: subprocess.Popen) -> None:
        """SIGTERM to the command's process group, SIGKILL to what is left after a grace."""
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.kill_grace)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc.pid, signal.SIGKILL)  # stragglers too, even if the shell is gone
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def abort(self) -> None:
        with self._plock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
