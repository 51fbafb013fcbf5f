"""`mlmon-tui demo`: a simulated training written live into a temporary folder, monitored.

The writer runs in a child process; quitting stops it and removes the folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlmon_tui.app import hangup
from mlmon_tui.sources.socket.protocol import default_unix_path


def start_writer(root: Path, rate: float, address: str | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mlmon_tui.app.demo_write", str(root), "--rate", str(rate),
           "--owned"]
    if address:
        cmd += ["--address", address]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(root / ".demo-writer.log", "w"), start_new_session=True)


def stop_writer(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)


def run(args, services: dict) -> int:
    from mlmon_tui.app.app import MonitorApp

    root = Path(tempfile.mkdtemp(prefix="mlmon-demo-"))
    proc = None
    try:
        address = None
        if services.get("listen") == "default":
            address = "unix:" + str(default_unix_path(root))
        elif services.get("listen"):
            address = services["listen"]
        proc = start_writer(root, args.rate, address)
        app = MonitorApp([str(root)], runs_re=args.runs, tags_re=args.tags,
                         smoothing=args.smoothing, x_mode=args.x, ascii=args.ascii,
                         group_by=args.group_by, color=args.color, **services)
        hangup.install(app, cleanup=lambda: cleanup(proc, root, args.keep))
        app.run()
        return app.return_code or 0
    finally:
        cleanup(proc, root, args.keep)


def cleanup(proc: subprocess.Popen | None, root: Path, keep: bool) -> None:
    if proc is not None:
        stop_writer(proc)
    if keep:
        try:
            print(f"demo logs kept in {root}")
        except OSError:  # the terminal is gone
            pass
    else:
        shutil.rmtree(root, ignore_errors=True)
