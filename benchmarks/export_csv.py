"""`mlmon-tui export` of 500k TensorBoard scalars to CSV, whole process (start-up, imports,
reading, writing), against tbparse's whole process doing the same job (`SummaryReader` ->
`DataFrame.to_csv`), in the same run; best wall time of `--repeat` runs each. Also the
in-process split of ours: reading into the store, then writing.

    PYTHONPATH=src python benchmarks/export_csv.py [--runs 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_tfevents import corpus  # noqa: E402

TBPARSE = """import sys
from tbparse import SummaryReader
df = SummaryReader(sys.argv[1], pivot=False, extra_columns={"dir_name", "wall_time"}).scalars
df.to_csv(sys.argv[2], index=False)
"""


def best(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="runs of 10 tags x 5k steps")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlmon-export-"))
    try:
        _, n = corpus(tmp / "logs", a.runs, 10, 5000, tensor=False)
        out = tmp / "out.csv"
        t_ours = best([sys.executable, "-m", "mlmon_tui", "export", str(tmp / "logs"), "-o", str(out)],
                      a.repeat)  # fmt: skip
        rows = out.read_text().count("\n") - 1
        assert rows == n, (rows, n)
        t_tbp = best([sys.executable, "-c", TBPARSE, str(tmp / "logs"), str(out)], a.repeat)
        from mlmon_tui.app.export import csv_block, load

        t = time.perf_counter()
        store = load([str(tmp / "logs")])
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        sink = io.StringIO()
        for run, tag in store.keys():
            s = store.series(run, tag)
            sink.write(csv_block(run, tag, s.step, s.wall, s.value))
        t_write = time.perf_counter() - t
        print(f"{n:,} scalars ({a.runs} runs x 10 tags x 5k steps), whole process, best of {a.repeat}:")
        print(f"  mlmon-tui export     {t_ours:6.2f} s  ({n / t_ours / 1e3:.0f}k scalars/s)")
        print(f"  tbparse -> to_csv    {t_tbp:6.2f} s  ({n / t_tbp / 1e3:.0f}k scalars/s)")
        print(f"  ratio                {t_tbp / t_ours:6.1f}x")
        print(f"  ours in process: read {t_read:.2f} s, write {t_write:.2f} s "
              f"({n / t_write / 1e6:.2f}M rows/s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
