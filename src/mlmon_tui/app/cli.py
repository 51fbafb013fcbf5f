"""Command line: `mlmon-tui [PATH ...]`, `demo`, `check`, `export`, `screenshot`."""

from __future__ import annotations

import argparse
import sys

from mlmon_tui import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlmon-tui", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mlmon-tui {__version__}")
    parser.add_argument("paths", nargs="*", default=["."])
    parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
