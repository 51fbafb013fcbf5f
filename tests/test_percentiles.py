"""Our histogram percentiles against TensorBoard's own pipeline (data_compat, then the
distribution plugin's compressor), on real logs and on histograms written by real writers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")
from tensorboard import data_compat  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402
from tensorboard.compat.proto import summary_pb2  # noqa: E402
from tensorboard.plugins.distribution.compressor import compress_histogram  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

from mlmon_tui.records.metrics import HistogramPoint  # noqa: E402
from mlmon_tui.sources.logs.tfevents import TfEventsSource  # noqa: E402
from mlmon_tui.store.percentiles import BASIS_POINTS, percentiles, summary  # noqa: E402
from reallogs import REAL_LOGS  # noqa: E402


def _oracle_value(value) -> list[float] | None:
    value = data_compat.migrate_value(value)
    if value.metadata.plugin_data.plugin_name != "histograms":
        return None
    arr = tensor_util.make_ndarray(value.tensor)
    return [v for _, v in compress_histogram(arr, BASIS_POINTS)]


@pytest.fixture(autouse=True)
def _fast_tensorboard_crc(monkeypatch):
    """TensorBoard without TensorFlow checks record CRCs in pure Python (a minute for the
    real logs); the same CRC32C from the library our reader uses. What is compared, the
    decoded histograms and the compressor, is TensorBoard's own."""
    import google_crc32c
    from tensorboard.compat.tensorflow_stub import pywrap_tensorflow

    monkeypatch.setattr(pywrap_tensorflow, "crc32c", google_crc32c.value)


def oracle(path: Path) -> dict[tuple[str, int], list[list[float]]]:
    out: dict = {}
    for ev in EventFileLoader(str(path)).Load():
        for value in ev.summary.value:
            if value.HasField("histo") or value.metadata.plugin_data.plugin_name == "histograms":
                got = _oracle_value(value)
                if got is not None:
                    out.setdefault((value.tag, ev.step), []).append(got)
    return out


def ours(path: Path) -> dict[tuple[str, int], list[list[float]]]:
    src = TfEventsSource(path, path.parent)
    out: dict = {}
    up = src.poll()
    for h in up.histograms:
        out.setdefault((h.tag, h.step), []).append(percentiles(h))
    return out


def close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) == 9 and all(
        x == y or (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9)
        for x, y in zip(a, b))


def assert_same(path: Path) -> int:
    got = ours(path)
    if not got:  # TensorBoard's own reader is slow: only where histograms are
        assert b"histograms" not in path.read_bytes(), f"{path}: TF2 histograms missed"
        return 0
    want = oracle(path)
    assert set(got) == set(want), path
    for key, rows in want.items():
        for w, g in zip(rows, got[key]):
            assert close(g, w), (path, key, g, w)
    return sum(len(r) for r in want.values())


def _proto_value(tag, mn, mx, limits, counts, num=None):
    h = summary_pb2.HistogramProto(min=mn, max=mx, num=sum(counts) if num is None else num,
                                   sum=0.0, sum_squares=0.0, bucket_limit=limits, bucket=counts)
    return summary_pb2.Summary.Value(tag=tag, histo=h)


def _point(value) -> HistogramPoint:
    h = value.histo
    return HistogramPoint(".", value.tag, 0, 0.0, h.min, h.max, h.num, h.sum, h.sum_squares,
                          np.array(h.bucket_limit), np.array(h.bucket))


DBL_MAX = 1.7976931348623157e308
GENERATED = {
    "uniform": (0.0, 1.0, [i / 10 for i in range(1, 11)], [5.0] * 10),
    "bimodal": (-3.0, 3.0, [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [40.0, 3.0, 0.0, 0.0, 4.0, 50.0]),
    "single bucket": (0.25, 0.25, [0.5], [7.0]),
    "empty": (0.0, 0.0, [], []),
    "all zero counts": (0.0, 0.0, [1.0, 2.0], [0.0, 0.0]),
    "infinite edges": (-2.5, 4.0, [-DBL_MAX, -1.0, 0.0, 1.0, DBL_MAX], [0.0, 3.0, 5.0, 2.0, 1.0]),
    "both infinite": (-7.0, 9.0, [-DBL_MAX, 0.0, DBL_MAX], [2.0, 0.0, 3.0]),
    "tiny": (1e-30, 3e-30, [2e-30, 3e-30], [1.0, 1.0]),
}


@pytest.mark.parametrize("name", list(GENERATED))
def test_generated_proto_histograms_match_tensorboard(name):
    value = _proto_value(name, *GENERATED[name])
    want = _oracle_value(value)
    got = percentiles(_point(value))
    assert close(got, want), (got, want)


@pytest.mark.parametrize("name", ["uniform", "bimodal", "single bucket", "tiny"])
def test_generated_rows_match_tensorboard(name):
    mn, mx, limits, counts = GENERATED[name]
    lefts = [mn] + limits[:-1]
    rows = np.array([lefts, limits, counts]).T
    h = HistogramPoint(".", name, 0, 0.0, mn, limits[-1], sum(counts), 0.0, 0.0,
                       np.array(limits), np.array(counts), layout="rows")
    want = [v for _, v in compress_histogram(rows, BASIS_POINTS)]
    assert close(percentiles(h), want)


def test_percentiles_are_ordered_and_summary_has_the_count():
    value = _proto_value("x", *GENERATED["bimodal"])
    s = summary(_point(value))
    assert s["count"] == 97.0 and s["min"] == -3.0 and s["max"] == 3.0
    assert s["percentiles"] == sorted(s["percentiles"])
    assert summary(_point(_proto_value("e", *GENERATED["empty"])))["percentiles"] == [0.0] * 9


def test_histograms_written_by_tensorboardx_and_torch(tmp_path):
    rng = np.random.default_rng(0)
    tbx = pytest.importorskip("tensorboardX")
    w = tbx.SummaryWriter(str(tmp_path / "tbx"))
    for step in range(5):
        w.add_histogram("w/normal", rng.normal(step, 1 + step, 1000), step)
        w.add_histogram("w/bimodal", np.concatenate([rng.normal(-5, 1, 300),
                                                     rng.normal(8, .5, 700)]), step)
        w.add_histogram("w/const", np.full(50, 3.25), step)
    w.close()
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    w = torch_tb.SummaryWriter(str(tmp_path / "torch"))
    for step in range(3):
        w.add_histogram("act/relu", np.maximum(rng.normal(size=2000), 0), step)
    w.close()
    total = sum(assert_same(p) for p in tmp_path.rglob("events.out.tfevents*"))
    assert total == 18


def test_every_histogram_in_the_real_logs_matches_tensorboard():
    if not REAL_LOGS.is_dir():
        pytest.skip(f"no real logs at {REAL_LOGS}")
    files = sorted(REAL_LOGS.rglob("events.out.tfevents*"))
    total = sum(assert_same(p) for p in files)
    if not total:
        pytest.skip("the real logs hold no histograms")
    assert total > 0


def test_export_histograms_csv_and_jsonl_carry_tensorboards_numbers(tmp_path):
    import csv
    import json
    import subprocess
    import sys

    tbx = pytest.importorskip("tensorboardX")
    rng = np.random.default_rng(1)
    w = tbx.SummaryWriter(str(tmp_path / "logs" / "a"))
    for step in (0, 10, 20):
        w.add_histogram("layer1/weight", rng.normal(0, 1 + step, 500), step)
    w.add_scalar("loss", 1.0, 0)
    w.close()
    want = {}
    for p in (tmp_path / "logs").rglob("events.out.tfevents*"):
        want.update({k: v[0] for k, v in oracle(p).items()})

    def cli(*args):
        r = subprocess.run([sys.executable, "-m", "mlmon_tui", "export", str(tmp_path / "logs"),
                            "--histograms", *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    rows = [json.loads(line) for line in cli("--format", "jsonl").splitlines()]
    assert [(r["run"], r["tag"], r["step"]) for r in rows] == [
        ("a", "layer1/weight", s) for s in (0, 10, 20)]
    for r in rows:
        assert r["count"] == 500 and math.isclose(r["min"], r["percentiles"][0], rel_tol=1e-6)
        assert close(r["percentiles"], want[("layer1/weight", r["step"])])
        assert r["mean"] is not None and abs(r["mean"]) < 10
    out = tmp_path / "h.csv"
    cli("-o", str(out))
    table = list(csv.DictReader(out.open()))
    assert list(table[0])[:8] == ["run", "tag", "step", "wall_time", "count", "min", "max", "mean"]
    assert [k for k in table[0]][8:] == ["p0", "p668", "p1587", "p3085", "p5000", "p6915",
                                        "p8413", "p9332", "p10000"]
    for r, j in zip(table, rows):
        assert close([float(r[c]) for c in list(r)[8:]], j["percentiles"])
