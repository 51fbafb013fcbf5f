"""The one place findings become alerts: each finding is announced once per session (keyed by
run, kind, tags and onset, so neither a redraw nor a detector that rebuilt its state repeats
it; a finding whose severity rises is announced again), to the terminal (bell and desktop
notification on a new error), to a shell command and to a webhook."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mlmon_tui.analysis.findings import SEVERITIES, Finding, severity_rank
from mlmon_tui.app.alerts import payload, terminal
from mlmon_tui.app.alerts.channel import Channel
from mlmon_tui.app.alerts.command import TIMEOUT_S as COMMAND_TIMEOUT_S, CommandChannel
from mlmon_tui.app.alerts.webhook import (ATTEMPTS, BACKOFF_S, TIMEOUT_S as WEBHOOK_TIMEOUT_S,
                                          WebhookChannel)

NOTIFY_CHOICES = ("terminal", "none")


@dataclass
class AlertOptions:
    bell: bool = True
    notify: str = "terminal"  # desktop notification through the terminal on a new error
    notify_level: str = "warning"  # the least severity sent to the command and the webhook
    on_finding: str | None = None
    webhook: str | None = None
    command_timeout: float = COMMAND_TIMEOUT_S
    kill_grace: float = 1.0
    webhook_timeout: float = WEBHOOK_TIMEOUT_S
    webhook_attempts: int = ATTEMPTS
    webhook_backoff: float = BACKOFF_S
    queue_size: int = 64

    def __post_init__(self) -> None:
        if self.notify not in NOTIFY_CHOICES:
            raise ValueError(f"--notify must be one of {', '.join(NOTIFY_CHOICES)}")
        if self.notify_level not in SEVERITIES:
            raise ValueError(f"--notify-level must be one of {', '.join(SEVERITIES)}")


class Alerter:
    def __init__(self, options: AlertOptions | None = None, *, sync: bool = False,
                 env: Mapping[str, str] | None = None) -> None:
        self.options = o = options or AlertOptions()
        self.env = dict(os.environ if env is None else env)
        self._lock = threading.Lock()
        # (run, kind, onset) -> [tags, severity rank] of each event announced
        self._said: dict[tuple, list[list]] = {}
        self._errors: list[Finding] = []  # new errors the terminal has not shown yet
        self.announced = 0
        self.notifications = 0  # desktop notifications written
        self.bells = 0
        kw = dict(sync=sync, queue_size=o.queue_size)
        self.channels: list[Channel] = []
        if o.on_finding:
            self.channels.append(CommandChannel(o.on_finding, timeout=o.command_timeout,
                                                kill_grace=o.kill_grace, **kw))
        if o.webhook:
            self.channels.append(WebhookChannel(o.webhook, timeout=o.webhook_timeout,
                                                attempts=o.webhook_attempts,
                                                backoff=o.webhook_backoff, **kw))

    def observe(self, findings: Iterable[Finding]) -> list[Finding]:
        """Take the current findings; announce those not announced before. Returns them.
        Never waits on a command or a server unless the alerter is synchronous."""
        new = []
        with self._lock:
            for f in findings:
                if self._is_new(f):
                    new.append(f)
            self.announced += len(new)
            self._errors += [f for f in new if severity_rank(f.severity) >= 2]
        least = severity_rank(self.options.notify_level)
        for f in new:
            if severity_rank(f.severity) < least or not self.channels:
                continue
            job = (payload.body(f), payload.environment(f))
            for ch in self.channels:
                ch.submit(job)
        return new

    def _is_new(self, f: Finding) -> bool:
        """Not announced yet: no event with its run, kind and onset shares a tag with it (a
        group that gained a tag is the same event), or it is now more severe."""
        tags, rank = set(payload.tags_of(f)), severity_rank(f.severity)
        events = self._said.setdefault(payload.event_key(f), [])
        for event in events:
            if event[0] & tags or event[0] == tags:
                event[0] |= tags
                if event[1] >= rank:
                    return False
                event[1] = rank
                return True
        events.append([tags, rank])
        return True

    def terminal_output(self) -> str:
        """What to write to the terminal for the errors announced since the last call: the
        bell and one desktop notification (empty when there is nothing new)."""
        with self._lock:
            errors, self._errors = self._errors, []
        if not errors:
            return ""
        out = ""
        if self.options.bell:
            out += "\a"
            self.bells += 1
        if self.options.notify == "terminal":
            note = terminal.notification(*_notice(errors), self.env)
            if note:
                out += note
                self.notifications += 1
        return out

    def drain(self, timeout: float) -> bool:
        return all(ch.drain(timeout) for ch in self.channels)

    def close(self) -> None:
        for ch in self.channels:
            ch.close()

    def lines(self) -> list[str]:
        """For the diagnostics view and the check's notes."""
        o = self.options
        out = [f"{self.announced} findings announced this session"]
        term = []
        if o.bell:
            term.append(f"bell rang {self.bells} times")
        if o.notify == "terminal":
            term.append(f"{self.notifications} desktop notifications "
                        f"({terminal.describe(self.env)})")
        if term:
            out.append("new errors: " + "; ".join(term))
        for ch in self.channels:
            out.append(f"{ch.summary()} ({o.notify_level} and above)")
        if not self.channels:
            out.append("no --on-finding command, no --webhook")
        return out

    def problems(self) -> list[str]:
        """One line per channel that did not deliver everything (for the check's notes)."""
        out = []
        for ch in self.channels:
            s = ch.stats
            if s.failed or s.timed_out or s.dropped:
                out.append(ch.summary())
        return out


def _notice(errors: list[Finding]) -> tuple[str, str]:
    first = errors[0]
    where = f" at step {first.step}" if first.step is not None else ""
    tags = payload.tags_text(first)
    body = f"{first.kind}{' on ' + tags if tags else ''}{where}: {first.message}"
    if len(errors) == 1:
        return payload.title(first), body
    return f"mlmon-tui: {len(errors)} new errors", f"{first.run}: {body}"
