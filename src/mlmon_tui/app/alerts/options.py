"""The alert flags, shared by the monitor, the demo and `check`."""

from __future__ import annotations

import argparse

from mlmon_tui.analysis.findings import SEVERITIES
from mlmon_tui.app.alerts.alerter import NOTIFY_CHOICES, AlertOptions
from mlmon_tui.app.alerts.webhook import check_url


def add_alert_options(p: argparse.ArgumentParser, *, headless: bool = False) -> None:
    p.add_argument("--notify", choices=NOTIFY_CHOICES, default="none" if headless else "terminal",
                   help="desktop notification through the terminal (OSC 9 and 777, tmux "
                        "passthrough) on a new error (default: %(default)s)")
    p.add_argument("--notify-level", choices=SEVERITIES, default="warning",
                   help="least severity that runs --on-finding and posts to --webhook "
                        "(default: warning)")
    p.add_argument("--on-finding", metavar="CMD",
                   help="shell command run for each new finding: its JSON on stdin, MLMON_RUN, "
                        "MLMON_TAG, MLMON_KIND, MLMON_SEVERITY, MLMON_STEP, MLMON_MESSAGE in "
                        "the environment; killed after 10 s")
    p.add_argument("--webhook", metavar="URL",
                   help="POST each new finding's JSON (with a Slack-style `text` field) to URL")


def alert_options(parser: argparse.ArgumentParser, a, *, bell: bool = True) -> AlertOptions:
    """The options from parsed flags; a bad one ends the program with a one-line message."""
    if a.webhook:
        try:
            check_url(a.webhook)
        except ValueError as e:
            parser.exit(2, f"{parser.prog}: error: --webhook: {e}\n")
    if a.on_finding is not None and not a.on_finding.strip():
        parser.exit(2, f"{parser.prog}: error: --on-finding: empty command\n")
    return AlertOptions(bell=bell, notify=a.notify, notify_level=a.notify_level,
                        on_finding=a.on_finding, webhook=a.webhook)
