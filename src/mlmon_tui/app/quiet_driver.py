"""A Linux terminal driver whose input thread sleeps while nothing happens.

Textual's `LinuxDriver` reads keys on a thread that wakes ten times a second, to see whether
it should stop and whether a lone Escape has waited long enough to be a key of its own. On an
idle monitor that polling was a third of everything the process cost. Here the thread waits
for a key, for the app to stop (a pipe wakes it), or for a pending Escape's deadline; else it
still looks once a second. Everything else is Textual's driver. `quiet(cls)` gives this class
for Textual's own Linux driver and `cls` unchanged for any other (headless, web, Windows).
"""

from __future__ import annotations

import os
import selectors
import signal
import termios
from codecs import getincrementaldecoder

from textual._loop import loop_last
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

IDLE_WAIT = 1.0  # seconds the thread sleeps with nothing pending (a safety net: a pipe wakes it)
PENDING_WAIT = 0.1  # ... with a half-read escape sequence waiting for its timeout


class QuietLinuxDriver(LinuxDriver):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def disable_input(self) -> None:
        """Textual's, with the input thread woken once it is told to stop."""
        try:
            if not self.exit_event.is_set():
                signal.signal(signal.SIGWINCH, signal.SIG_DFL)
                self._disable_mouse_support()
                self.exit_event.set()
                self._wake()
                if self._key_thread is not None:
                    self._key_thread.join()
                self.exit_event.clear()
                try:
                    termios.tcflush(self.fileno, termios.TCIFLUSH)
                except termios.error:
                    pass
        except Exception:
            pass

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def close(self) -> None:
        super().close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def run_input_thread(self) -> None:
        """Textual's loop, waiting on the terminal and the wake pipe instead of polling."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        fileno, wake_r = self.fileno, self._wake_r
        EVENT_READ = selectors.EVENT_READ
        parser = XTermParser(self._debug)
        feed, tick = parser.feed, parser.tick
        decode = getincrementaldecoder("utf-8")().decode
        read = os.read

        def pending() -> bool:
            return getattr(parser, "_timeout_time", 0) is not None

        def process(events, final: bool = False) -> None:
            keys = []
            for key, mask in events:
                if key.fd == wake_r:
                    try:
                        read(wake_r, 64)
                    except OSError:
                        pass
                else:
                    keys.append((key, mask))
            for last, (_key, mask) in loop_last(keys):
                if mask & EVENT_READ:
                    data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not data:  # stdin is a pipe that closed
                        break
                    for event in feed(data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(PENDING_WAIT if pending() else IDLE_WAIT))
            selector.unregister(self.fileno)
            process(selector.select(PENDING_WAIT), final=True)
        finally:
            selector.close()
            try:
                for _ in feed(""):
                    pass
            except (EOFError, ParseError):
                pass


def quiet(cls: type) -> type:
    """`QuietLinuxDriver` in place of Textual's own Linux driver; anything else unchanged."""
    return QuietLinuxDriver if cls is LinuxDriver else cls
