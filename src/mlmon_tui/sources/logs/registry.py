"""Which reader opens which file.

Each reader module offers two functions:
    probe(path: Path, head: bytes) -> int     0 = not mine; higher = more sure (name and content)
    open_source(path: Path, root: Path) -> Source
`head` is the first 4 KiB of the file (b"" for an empty file). The most confident reader wins.
A module that is missing or raises while probing is skipped, never fatal.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from mlmon_tui.sources.base import Source

READERS = (
    "mlmon_tui.sources.logs.tfevents",
    "mlmon_tui.sources.logs.wandb",
    "mlmon_tui.sources.logs.mlflow",
    "mlmon_tui.sources.logs.mlflow_sqlite",
    "mlmon_tui.sources.logs.hf_trainer",
    "mlmon_tui.sources.logs.csvlog",
    "mlmon_tui.sources.logs.jsonl",
    "mlmon_tui.sources.socket.meta",
)
HEAD_BYTES = 4096
SKIP_DIRS = {".ipynb_checkpoints", "__pycache__", "node_modules"}


def _modules():
    mods = []
    for name in READERS:
        try:
            mods.append(importlib.import_module(name))
        except ImportError:
            continue
    return mods


_MODULES = None


def modules():
    global _MODULES
    if _MODULES is None:
        _MODULES = _modules()
    return _MODULES


def read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError:
        return b""


def choose(path: Path, head: bytes | None = None):
    """The reader module for `path`, or None."""
    if skip_file(Path(path)):
        return None
    if head is None:
        head = read_head(path)
    best, best_score = None, 0
    for mod in modules():
        try:
            score = mod.probe(path, head)
        except Exception:
            continue
        if score > best_score:
            best, best_score = mod, score
    return best


def open_source(path: Path, root: Path) -> Source | None:
    mod = choose(path)
    if mod is None:
        return None
    return mod.open_source(path, root)


def run_name(path: Path, root: Path) -> str:
    """A run is the directory that holds the file, named relative to the root ('.' for the
    root itself, as TensorBoard does)."""
    try:
        rel = path.parent.relative_to(root)
    except ValueError:
        rel = path.parent
    name = rel.as_posix()
    return name if name else "."


def skip_dir(name: str, parent: Path | None = None) -> bool:
    """Folders never walked: hidden ones, caches, and the tools' own internals (see
    `tool_internal`)."""
    if name.startswith(".") or name in SKIP_DIRS:
        return True
    return parent is not None and tool_internal(parent, name)


# W&B: wandb/run-<date>-<id>/{logs,tmp}/ and wandb/debug*.log; MLflow: <run>/artifacts/ and
# a server's mlartifacts/; TensorBoard: the profiler's plugins/profile/ (traces, not scalars)
WANDB_RUN_DIR = re.compile(r"^(offline-)?run-\d{8}_\d{6}-.+$")
WANDB_INTERNAL_DIRS = {"logs", "tmp"}


def tool_internal(parent: Path, name: str) -> bool:
    """Whether folder `name` in `parent` holds a tool's own files rather than metrics."""
    if name in WANDB_INTERNAL_DIRS:
        return bool(WANDB_RUN_DIR.match(parent.name))
    if name == "mlartifacts":
        return True
    if name == "artifacts":
        return ("mlruns" in (parent.parent.name, parent.parent.parent.name)
                or (parent / "meta.yaml").is_file()
                or any((parent / d).is_dir() for d in ("metrics", "params")))
    if name == "profile":
        return parent.name == "plugins"
    return False


def skip_file(path: Path) -> bool:
    """Files never probed: W&B's own debug logs (`debug.log`, `debug-internal.log`, ...)."""
    name = path.name
    if name.startswith("debug") and name.endswith(".log"):
        parent = path.parent
        return parent.name == "wandb" or bool(WANDB_RUN_DIR.match(parent.name)) or (
            parent.name == "logs" and bool(WANDB_RUN_DIR.match(parent.parent.name)))
    return False


COMPANION_SUFFIXES = ("-wal", "-journal")  # SQLite writes these beside the database


def owner(path: Path) -> Path:
    """The file a change to `path` belongs to: a SQLite database for its `-wal` or
    `-journal` file (a write in WAL mode touches only the `-wal`), else `path` itself."""
    for suffix in COMPANION_SUFFIXES:
        if path.name.endswith(suffix):
            main = path.with_name(path.name[: -len(suffix)])
            return main if main.is_file() else path
    return path
