"""mlmon-tui: a terminal live monitor for machine-learning training.

  mlmon-tui [PATH ...]              monitor log directories (default: .)
  mlmon-tui demo                    a simulated training, monitored (no logs or GPU needed)
  mlmon-tui check PATH [--json]     health analysis once, headless; exit 1 on findings
  mlmon-tui export PATH [-o FILE]   every scalar (or --histograms) as CSV or JSONL
  mlmon-tui screenshot PATH -o FILE.svg [--size 160x48]
  mlmon-tui summary PATH [--metric TAG] [--sort COLUMN] [--group-by KEY] [--json]
                                    the runs table of a sweep, headless
  mlmon-tui agent PATH... --metrics-port PORT   headless, serves Prometheus /metrics
  mlmon-tui cluster URL             every node's runs and GPUs, from Prometheus
"""

from __future__ import annotations

import argparse
import sys

from mlmon_tui import __version__
from mlmon_tui.panels.palette import COLOR_MODES

SUBCOMMANDS = ("demo", "check", "export", "screenshot", "summary", "agent", "cluster")


def _smoothing(text: str) -> float:
    v = float(text)
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError("smoothing must be in [0, 1)")
    return v


def _size(text: str) -> tuple[int, int]:
    try:
        cols, rows = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size must look like 160x48") from None
    if cols < 20 or rows < 8:
        raise argparse.ArgumentTypeError("size must be at least 20x8")
    return cols, rows


def _group_by(text: str) -> str:
    from mlmon_tui.analysis.groups import GroupBy

    try:
        GroupBy.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def add_view_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", metavar="REGEX", help="show only runs matching REGEX")
    p.add_argument("--tags", metavar="REGEX", help="show only tags matching REGEX")
    p.add_argument("--smoothing", type=_smoothing, default=0.6, metavar="W",
                   help="EMA smoothing weight in [0, 1), as TensorBoard (default 0.6)")
    p.add_argument("--x", choices=("step", "relative", "wall"), default="step",
                   help="x axis (default step)")
    p.add_argument("--ascii", action="store_true",
                   help="draw charts with ASCII instead of braille (automatic without UTF-8)")
    p.add_argument("--group-by", type=_group_by, metavar="KEY",
                   help="draw runs grouped (mean and min-max band): a hyper-parameter, "
                        "/regex/ with a capture group, or seed (all but the seed)")
    p.add_argument("--color", choices=COLOR_MODES, default="auto",
                   help="colours: auto (from the terminal; NO_COLOR is honoured), truecolor, "
                        "256, 16 or none; with 16 or none runs also differ by dash pattern")


def monitor_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mlmon-tui", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"mlmon-tui {__version__}")
    p.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                   help="log directories to watch (a run is a directory holding log files); "
                        "also an mlflow.db, a sqlite:/// URI or an MLflow server's http:// URL")
    p.add_argument("--poll", action="store_true",
                   help="poll instead of inotify (NFS, Lustre; automatic where detected)")
    p.add_argument("--refresh", type=float, default=1.0, metavar="SECONDS",
                   help="least time between redraws of new data (default 1: runs that write "
                        "out of step still make one frame a second)")
    add_view_options(p)
    add_service_options(p)
    from mlmon_tui.app.agent.server import add_metrics_options

    add_metrics_options(p)
    p.add_argument("--prometheus", metavar="URL",
                   help="show the cluster view of this Prometheus server instead")
    return p


def add_service_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", metavar="ADDRESS", default="default",
                   help="metrics socket: unix:PATH or tcp:127.0.0.1:PORT "
                        "(default: unix:<first PATH>/.mlmon/mlmon.sock)")
    p.add_argument("--no-listen", action="store_true", help="open no metrics socket")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow --listen on a non-loopback TCP address (no authentication!)")
    p.add_argument("--no-gpu", action="store_true", help="do not query NVIDIA GPUs (NVML)")
    p.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                   help="CPU/memory/GPU sampling interval (default 2, as btop and nvitop; "
                        "each sample costs the box it watches)")
    p.add_argument("--config", metavar="FILE", help="TOML file with health thresholds")
    p.add_argument("--no-bell", action="store_true", help="no terminal bell on a new error")
    from mlmon_tui.app.alerts.options import add_alert_options

    add_alert_options(p)


def service_kwargs(parser: argparse.ArgumentParser, a) -> dict:
    from mlmon_tui.app.alerts.options import alert_options

    alerts = alert_options(parser, a, bell=not a.no_bell)
    config = None
    if a.config:
        from mlmon_tui.analysis.config import load_config

        try:
            config = load_config(a.config)
        except Exception as e:
            parser.exit(2, f"mlmon-tui: error: {a.config}: {e}\n")
    if a.interval <= 0:
        parser.exit(2, "mlmon-tui: error: --interval must be positive\n")
    if a.listen != "default" and not a.no_listen:  # asked for by name: check it up front
        from mlmon_tui.sources.socket.protocol import is_loopback, parse_address

        try:
            kind, where = parse_address(a.listen)
        except ValueError as e:
            parser.exit(2, f"mlmon-tui: error: --listen: {e}\n")
        if kind == "tcp" and not is_loopback(where[0]):
            if not a.allow_remote:
                parser.exit(2, f"mlmon-tui: error: --listen {a.listen} is not a loopback address;"
                               " add --allow-remote to accept connections from the network\n")
            print(f"mlmon-tui: warning: listening on {a.listen}: anyone who can reach it can "
                  "write metrics (no authentication)", file=sys.stderr)
    return dict(gpu=not a.no_gpu, interval=a.interval,
                listen=None if a.no_listen else a.listen, allow_remote=a.allow_remote,
                config=config, bell=not a.no_bell, alerts=alerts)


def _check_paths(parser: argparse.ArgumentParser, paths: list[str]) -> None:
    """Exit with a usage error for a target that names no file or folder (`sqlite:///`
    URIs name their file; an MLflow server's URL is not checked here)."""
    from mlmon_tui.sources.watch.remote import missing_targets

    for path in missing_targets(paths):
        parser.exit(2, f"mlmon-tui: error: no such file or directory: {path}\n")


def run_monitor(argv: list[str]) -> int:
    parser = monitor_parser()
    a = parser.parse_args(argv)
    if a.prometheus:
        return run_cluster([a.prometheus])
    from mlmon_tui.sources.watch.remote import resolve_target

    a.paths = [resolve_target(p) for p in a.paths]  # sqlite:/// URIs; URLs stay
    _check_paths(parser, a.paths)
    from mlmon_tui.app.agent.server import check_metrics_options, start_metrics
    from mlmon_tui.app.app import MonitorApp

    check_metrics_options(parser, a)

    app = MonitorApp(a.paths, poll=a.poll, runs_re=a.runs, tags_re=a.tags,
                     smoothing=a.smoothing, x_mode=a.x, refresh=a.refresh, ascii=a.ascii,
                     group_by=a.group_by, color=a.color, **service_kwargs(parser, a))
    from mlmon_tui.app import hangup

    hangup.install(app)
    try:
        metrics = start_metrics(app.services, a)
    except OSError as e:
        parser.exit(1, f"mlmon-tui: error: {e}\n")
    try:
        app.run()
    finally:
        if metrics is not None:
            metrics.stop()
    return app.return_code or 0


def run_demo(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mlmon-tui demo",
                                description="Monitor a simulated training written live to a "
                                            "temporary folder (removed on exit).")
    p.add_argument("--rate", type=float, default=4.0, help="simulated steps per second")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    add_view_options(p)
    add_service_options(p)
    a = p.parse_args(argv)
    from mlmon_tui.app.demo import run as demo_run

    return demo_run(a, service_kwargs(p, a))


def run_export(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mlmon-tui export",
                                description="Write every scalar as (run, tag, step, wall_time, value).")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: stdout)")
    p.add_argument("--histograms", action="store_true",
                   help="every histogram instead: count, min, max, mean and TensorBoard's "
                        "nine distribution percentiles")
    a = p.parse_args(argv)
    _check_paths(p, a.paths)
    from mlmon_tui.app.export import export

    return export(a.paths, a.format, a.output, histograms=a.histograms)


def run_screenshot(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mlmon-tui screenshot",
                                description="Render the monitor headlessly to an SVG file.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-o", "--output", required=True, metavar="FILE.svg")
    p.add_argument("--size", type=_size, default=(160, 48), metavar="COLSxROWS")
    p.add_argument("--no-gauges", action="store_true",
                   help="leave out the CPU / memory / GPU gauges (drawn from one sample)")
    p.add_argument("--no-gpu", action="store_true", help="do not query NVIDIA GPUs (NVML)")
    add_view_options(p)
    a = p.parse_args(argv)
    _check_paths(p, a.paths)
    from mlmon_tui.app.screenshot import screenshot

    return screenshot(a.paths, a.output, a.size, runs_re=a.runs, tags_re=a.tags,
                      smoothing=a.smoothing, x_mode=a.x, ascii=a.ascii, group_by=a.group_by,
                      color=a.color, gauges=not a.no_gauges, gpu=not a.no_gpu)


def run_check(argv: list[str]) -> int:
    try:
        from mlmon_tui.app.check import main as check_main
    except ImportError:
        print("mlmon-tui: check is not available in this build", file=sys.stderr)
        return 2
    return check_main(argv)


def run_summary(argv: list[str]) -> int:
    from mlmon_tui.app.summary import main as summary_main

    return summary_main(argv)


def run_agent(argv: list[str]) -> int:
    from mlmon_tui.app.agent.run import main as agent_main

    return agent_main(argv)


def run_cluster(argv: list[str]) -> int:
    from mlmon_tui.app.cluster.run import main as cluster_main

    return cluster_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            cmd = argv.pop(0)
            return {"demo": run_demo, "export": run_export, "screenshot": run_screenshot,
                    "check": run_check, "summary": run_summary, "agent": run_agent,
                    "cluster": run_cluster}[cmd](argv)
        return run_monitor(argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
