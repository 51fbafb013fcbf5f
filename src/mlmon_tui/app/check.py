"""`mlmon-tui check PATH... [--json] [--fail-on warning|error] [--now TIME] [--config FILE]
[--on-finding CMD] [--webhook URL] [--notify-level LEVEL]`: read every log under the paths
once, run the health analysis, print the findings, announce them (the command and the webhook
run before exit, each with its timeout), and exit 1 when one reaches the `--fail-on` severity
(0 otherwise, 2 for usage errors)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from mlmon_tui.analysis.config import HealthConfig, load_config
from mlmon_tui.analysis.findings import SEVERITIES, Finding, severity_rank
from mlmon_tui.analysis.monitor import HealthMonitor
from mlmon_tui.app.alerts import AlertOptions, Alerter, add_alert_options, alert_options
from mlmon_tui.sources.watch.remote import load_targets, missing_targets
from mlmon_tui.store import Store


def parse_time(text: str) -> float:
    """Unix seconds (`1700000000`, `1700000000.5`) or ISO 8601 (`2026-11-23T01:00:00Z`,
    `2026-11-23 01:00+02:00`); a time without a zone is UTC."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use Unix seconds or ISO 8601, "
                         f"e.g. 2026-11-23T01:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def load(paths: list, store: Store) -> list[str]:
    """Read every file a reader claims under `paths` (folders, files, `sqlite:///` URIs,
    MLflow servers' URLs) into `store` (the monitor's own loader: same run names, same
    readers); returns the problems met, to show."""
    load_targets([str(p) for p in paths], store)
    return [f"{p.path}: {p.message}" for p in store.problems]


def run_check(paths: list[str], *, json_out: bool = False, fail_on: str = "error",
              now: float | None = None, config: Path | None = None,
              alerts: AlertOptions | None = None) -> int:
    if fail_on not in SEVERITIES:
        print(f"mlmon-tui check: --fail-on must be one of {', '.join(SEVERITIES)}",
              file=sys.stderr)
        return 2
    missing = missing_targets(paths)
    if not paths or missing:
        what = ", ".join(missing) if missing else "(none given)"
        print(f"mlmon-tui check: no such file or directory: {what}", file=sys.stderr)
        return 2
    try:
        cfg: HealthConfig = load_config(config)
    except ValueError as e:
        print(f"mlmon-tui check: {e}", file=sys.stderr)
        return 2
    store = Store()
    notes = load(paths, store)
    monitor = HealthMonitor(cfg)
    monitor.update(store, None, now=now)
    monitor.finish(store)
    findings = sorted(monitor.findings, key=_order)
    if not store.runs():
        notes.append(f"no training logs found under {', '.join(paths)}")
    if alerts is not None:
        notes += _announce(findings, alerts)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if json_out:
        json.dump([f.to_dict() for f in findings], sys.stdout, indent=1,
                  default=lambda o: o.item() if hasattr(o, "item") else str(o))
        sys.stdout.write("\n")
    else:
        for f in findings:
            print(f.line())
        print(_summary(findings, store))
    worst = max((severity_rank(f.severity) for f in findings), default=-1)
    return 1 if worst >= severity_rank(fail_on) else 0


def _announce(findings: list[Finding], options: AlertOptions) -> list[str]:
    """Run the command and post to the webhook for each finding, in line (each with its
    timeout); a desktop notification goes to stderr when it is a terminal. Returns notes."""
    alerter = Alerter(options, sync=True)
    alerter.observe(findings)
    out = alerter.terminal_output()
    if out and sys.stderr.isatty():
        sys.stderr.write(out)
        sys.stderr.flush()
    return alerter.problems()


def _order(f: Finding):
    return (f.run, f.step if f.step is not None else -1, -severity_rank(f.severity), f.kind, f.tag)


def _summary(findings: list[Finding], store: Store) -> str:
    runs, points = len(store.runs()), store.total_points()
    if not findings:
        return f"no findings in {runs} run{'s' * (runs != 1)} ({points} points)"
    counts = {s: sum(f.severity == s for f in findings) for s in reversed(SEVERITIES)}
    parts = ", ".join(f"{n} {s}{'s' * (n != 1)}" for s, n in counts.items() if n)
    return f"{len(findings)} finding{'s' * (len(findings) != 1)} ({parts}) in {runs} runs ({points} points)"


def add_check_parser(subparsers) -> argparse.ArgumentParser:
    """Register `check` on an argparse subparsers object; the handler is `args.func(args)`."""
    p = subparsers.add_parser("check", help="run the health analysis once, headless",
                              description=__doc__)
    _arguments(p)
    p.set_defaults(func=_run_args)
    return p


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="log files or directories")
    p.add_argument("--json", action="store_true", help="print the findings as a JSON array")
    p.add_argument("--fail-on", choices=("warning", "error"), default="error",
                   help="exit 1 when a finding reaches this severity (default: error)")
    p.add_argument("--now", type=_time_arg, default=None, metavar="TIME",
                   help="judge stalls against this time (Unix seconds or ISO 8601)")
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="TOML file whose [health] table overrides the thresholds")
    add_alert_options(p, headless=True)


def _time_arg(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _run_args(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> int:
    parser = parser or argparse.ArgumentParser(prog="mlmon-tui check")
    alerts = alert_options(parser, args, bell=False)
    return run_check(args.paths, json_out=args.json, fail_on=args.fail_on, now=args.now,
                     config=args.config, alerts=alerts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlmon-tui check", description=__doc__)
    _arguments(parser)
    return _run_args(parser.parse_args(argv), parser)


if __name__ == "__main__":
    sys.exit(main())
