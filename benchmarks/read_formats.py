"""Reading speed of the CSV and JSON-lines readers against the usual ways, on the same files in
the same run, and the cost of one live poll as the file grows.

    PYTHONPATH=src python benchmarks/read_formats.py [--quick] [--rows N]

Peers: `csv.DictReader` + `float()` and `json.loads` per line, each collecting per-column
lists as a reader must (the plain-Python way), and pandas `read_csv` /
`read_json(lines=True)` (parse only: no per-tag split, so they are flattered). Our CSV
reader itself hands blocks of 8 MiB and more to pandas' parser when pandas is installed
(numpy's loadtxt otherwise); run with `--no-pandas` to see the numpy-only figure.
The tail part appends 100 rows to a 10k-row and to an N-row file, in turns, and times the
poll that picks them up and the poll after it that finds nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mlmon_tui.sources.logs import csvlog
from mlmon_tui.sources.logs import jsonl  # noqa: E402


def write_dense_csv(path: Path, n: int, start: int = 0, header: bool = True) -> None:
    rng = np.random.default_rng(start)
    v = rng.random((n, 4))
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(["step", "epoch", "loss", "acc", "val_loss", "lr"])
        for i in range(n):
            s = start + i
            w.writerow([s, s // 1000, f"{v[i, 0]:.8g}", f"{v[i, 1]:.8g}", f"{v[i, 2]:.8g}", f"{v[i, 3]:.8g}"])


def write_sparse_csv(path: Path, n: int) -> None:
    """Lightning's layout: every row has step/epoch, other columns only now and then."""
    rng = np.random.default_rng(1)
    v = rng.random(n)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "lr-Adam", "step", "train_loss_step", "val_loss"])
        for i in range(n):
            lr = "0.001" if i % 10 == 0 else ""
            val = f"{v[i]:.8g}" if i % 50 == 0 else ""
            w.writerow([i // 1000, lr, i, f"{v[i]:.8g}", val])


def write_jsonl(path: Path, n: int, start: int = 0) -> None:
    rng = np.random.default_rng(2 + start)
    v = rng.random((n, 3))
    with open(path, "a") as f:
        for i in range(n):
            s = start + i
            f.write(json.dumps({"step": s, "wall_time": 1.7e9 + s, "loss": v[i, 0], "acc": v[i, 1],
                                "lr": v[i, 2]}) + "\n")


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def ours(mod, path: Path):
    def run():
        src = mod.open_source(path, path.parent)
        update = src.poll()
        src.close()
        assert update.scalars
    return run


def dictreader(path: Path):
    def run():
        cols: dict[str, tuple[list, list]] = {}
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                step = int(row["step"])
                for k, v in row.items():
                    if k != "step" and v:
                        c = cols.setdefault(k, ([], []))
                        c[0].append(step)
                        c[1].append(float(v))
    return run


def json_loop(path: Path):
    def run():
        cols: dict[str, tuple[list, list]] = {}
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                step = rec.pop("step")
                for k, v in rec.items():
                    c = cols.setdefault(k, ([], []))
                    c[0].append(step)
                    c[1].append(float(v))
    return run


def tail_poll_costs(tmp: Path, sizes: list[int], kind: str, reps: int = 40) -> dict:
    """{rows: (median s of a poll finding 100 appended rows, of a poll finding nothing)}.
    The files take turns, so a change in machine load hits every size alike."""
    mod, write = (csvlog, write_dense_csv) if kind == "csv" else (jsonl, write_jsonl)
    srcs = {}
    for rows in sizes:
        path = tmp / f"tail_{rows}.{kind}"
        write(path, rows)
        srcs[rows] = (path, mod.open_source(path, tmp))
        srcs[rows][1].poll()
    found = {rows: [] for rows in sizes}
    idle = {rows: [] for rows in sizes}
    for r in range(reps):
        for rows, (path, src) in srcs.items():
            if kind == "csv":
                write(path, 100, start=rows + 100 * r, header=False)
            else:
                write(path, 100, start=rows + 100 * r)
            t = time.perf_counter()
            update = src.poll()
            found[rows].append(time.perf_counter() - t)
            assert sum(len(b) for b in update.scalars) == (500 if kind == "csv" else 300)
            t = time.perf_counter()
            assert not src.poll()
            idle[rows].append(time.perf_counter() - t)
    for path, _ in srcs.values():
        path.unlink()
    return {rows: (statistics.median(found[rows]), statistics.median(idle[rows])) for rows in sizes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200k rows instead of 1M")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--no-pandas", action="store_true", help="our CSV reader without pandas")
    args = ap.parse_args()
    if args.no_pandas:
        csvlog._PANDAS = False
    n = args.rows or (200_000 if args.quick else 1_000_000)
    import pandas as pd

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        dense, sparse, lines = tmp / "dense.csv", tmp / "sparse" / "metrics.csv", tmp / "m.jsonl"
        sparse.parent.mkdir()
        write_dense_csv(dense, n)
        write_sparse_csv(sparse, n)
        write_jsonl(lines, n)
        print(f"rows per file: {n:,}  (best of 3; rows/s, higher is better)\n")
        print(f"{'file':<22}{'reader':<34}{'rows/s':>12}{'ours is':>12}")
        for label, path, peers in (
            ("dense CSV (6 cols)", dense, [("csv.DictReader + float", dictreader(dense)),
                                           ("pandas.read_csv", lambda: pd.read_csv(dense))]),
            ("Lightning sparse CSV", sparse, [("csv.DictReader + float", dictreader(sparse)),
                                              ("pandas.read_csv", lambda: pd.read_csv(sparse))]),
            ("JSONL (5 keys)", lines, [("json.loads per line", json_loop(lines)),
                                       ("pandas.read_json(lines=True)",
                                        lambda: pd.read_json(lines, lines=True))]),
        ):
            mod = jsonl if path.suffix == ".jsonl" else csvlog
            t_ours = timed(ours(mod, path))
            print(f"{label:<22}{'mlmon ' + mod.__name__.rsplit('.', 1)[1]:<34}{n / t_ours:>12,.0f}{'':>12}")
            for name, fn in peers:
                t = timed(fn, repeat=1 if "DictReader" in name or "loads" in name else 3)
                print(f"{'':<22}{name:<34}{n / t:>12,.0f}{t / t_ours:>11.1f}x")
        print("\nOne poll that finds 100 new rows, and one that finds nothing (medians of 40):")
        print(f"{'format':<8}{'file rows':>12}{'poll, 100 new':>16}{'poll, idle':>14}")
        for kind in ("csv", "jsonl"):
            for rows, (found, idle) in tail_poll_costs(tmp, [10_000, n], kind).items():
                print(f"{kind:<8}{rows:>12,}{found * 1e6:>13.0f} µs{idle * 1e6:>11.1f} µs")
        t_reread = timed(lambda: pd.read_csv(dense), repeat=1)
        print(f"\nfor scale: re-reading the {n:,}-row CSV with pandas on each poll costs "
              f"{t_reread * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
