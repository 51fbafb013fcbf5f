"""W&B `.wandb` run files, written by the real wandb SDK in offline mode.

wandb 0.31 no longer ships a Python reader of its run files (its old `datastore` moved into
the Go `wandb-core`), so the oracle here is wandb's own `Record` protobuf class over the
LevelDB-log framing, read the plain way wandb's datastore used to; plus the values the
script logged.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from mlmon_tui.sources.logs import registry
from mlmon_tui.sources.logs import wandb as wreader
from mlmon_tui.sources.logs.wandb import WandbSource, read_all
from mlmon_tui.sources.logs.wandb_writer import RunWriter
from mlmon_tui.sources.watch.watcher import Watcher
from mlmon_tui.store import Store

pb = pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="wandb not installed")

SCRIPT = textwrap.dedent("""
    import json, math, sys, wandb
    out = sys.argv[1]
    run = wandb.init(project="mlmon", name="probe-run", id="probe01",
                     config={"lr": 3e-4, "model": {"depth": 4, "act": "gelu"}, "seed": 7})
    rows = []
    for i in range(60):
        weird = {5: math.nan, 6: math.inf, 7: -math.inf}.get(i, float(i))
        row = {"loss": 1 / (i + 1), "acc": i / 60, "train": {"grad": {"norm": i * 0.5}},
               "weird": weird, "note": "text", "flag": True, "count": i * 3}
        if i % 10 == 0:
            row["gradients/fc.weight"] = wandb.Histogram([0.01 * i, -0.2, 0.3, 0.3], num_bins=4)
        run.log(row)
        rows.append({k: v for k, v in row.items() if not k.startswith("gradients")})
    run.log({"wide": {f"k{j}": j for j in range(2500)}})  # one record over several blocks
    run.config.update({"late": 5})
    run.summary["best"] = 0.9
    run.finish()
    run = wandb.init(project="mlmon", name="probe-run", id="probe01", resume="allow")
    for i in range(5):
        run.log({"loss": 0.01 * i}, step=100 + i)
    run.finish()
    json.dump(rows, open(out, "w"))
""")


@pytest.fixture(scope="module")
def wandb_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("wb")
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(base), WANDB_SILENT="true",
               WANDB_CONSOLE="off", WANDB_DISABLE_GIT="true")
    (base / "log.py").write_text(SCRIPT)
    subprocess.run([sys.executable, str(base / "log.py"), str(base / "logged.json")], env=env,
                   check=True, timeout=120, cwd=base)
    return base


def run_files(base: Path) -> list[Path]:
    return sorted((base / "wandb").glob("offline-run-*/run-*.wandb"))


def oracle_records(path: Path) -> list:
    """Every record of a .wandb file, through wandb's own protobuf class."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    i, out, frag = 7, [], b""
    while i + 7 <= len(data):
        left = 32768 - i % 32768
        if left < 7:
            i += left
            continue
        crc, n, t = struct.unpack_from("<IHB", data, i)
        body = data[i + 7 : i + 7 + n]
        if len(body) < n:
            break
        assert zlib.crc32(body, zlib.crc32(bytes([t]))) == crc
        i += 7 + n
        if t == 1:
            out.append(body)
        elif t == 2:
            frag = body
        elif t == 3:
            frag += body
        elif t == 4:
            out.append(frag + body)
    return [pb.Record.FromString(b) for b in out]


def oracle_points(path: Path) -> dict[str, tuple[list, list, list]]:
    """tag -> (steps, walls, values) of every numeric history item, per wandb's records."""
    pts: dict[str, tuple[list, list, list]] = {}
    for rec in oracle_records(path):
        if not rec.HasField("history"):
            continue
        row = {("/".join(it.nested_key) or it.key): json.loads(it.value_json)
               for it in rec.history.item}
        for tag, v in row.items():
            if tag in ("_step", "_timestamp", "_runtime") or isinstance(v, bool):
                continue
            if isinstance(v, (int, float)):
                s, w, vals = pts.setdefault(tag, ([], [], []))
                s.append(row["_step"])
                w.append(row["_timestamp"])
                vals.append(float(v))
    return pts


def ours(update) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out: dict[str, list] = {}
    for b in update.scalars:
        s, w, v = out.setdefault(b.tag, ([], [], []))
        s.extend(b.step.tolist())
        w.extend(b.wall.tolist())
        v.extend(b.value.tolist())
    return {t: tuple(np.array(c) for c in cols) for t, cols in out.items()}


def assert_same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for tag, (s, w, v) in want.items():
        np.testing.assert_array_equal(got[tag][0], s, err_msg=tag)
        np.testing.assert_array_equal(got[tag][1], w, err_msg=tag)
        np.testing.assert_array_equal(got[tag][2], v, err_msg=tag)  # NaN equals NaN here


def test_every_point_equals_wandbs_records_and_what_was_logged(wandb_dir):
    first = run_files(wandb_dir)[0]
    up = read_all(first)
    assert not up.problems
    got = ours(up)
    assert_same(got, oracle_points(first))
    logged = json.loads((wandb_dir / "logged.json").read_text())
    assert {"loss", "acc", "train/grad/norm", "weird", "count"} <= set(got)
    assert "note" not in got and "flag" not in got and "_runtime" not in got
    for tag, key in (("loss", ("loss",)), ("train/grad/norm", ("train", "grad", "norm")),
                     ("weird", ("weird",)), ("count", ("count",))):
        want = []
        for row in logged:
            for k in key:
                row = row[k]
            want.append(float(row))
        np.testing.assert_array_equal(got[tag][2], want)
        np.testing.assert_array_equal(got[tag][0], np.arange(60))
    w = got["weird"][2]
    assert math.isnan(w[5]) and w[6] == math.inf and w[7] == -math.inf
    assert len([t for t in got if t.startswith("wide/")]) == 2500
    assert {b.run for b in up.scalars} == {"probe-run"}
    meta = up.meta["probe-run"]
    assert meta["hparams"] == {"lr": 3e-4, "model/depth": 4, "model/act": "gelu", "seed": 7,
                               "late": 5}
    assert meta["exit_code"] == 0
    assert meta["summary"]["best"] == 0.9 and meta["summary"]["loss"] == 1 / 60


def test_histograms_equal_wandbs(wandb_dir):
    """`wandb.Histogram` (what `wandb.watch` logs) reaches the gradient analysis."""
    first = run_files(wandb_dir)[0]
    want = []
    for rec in oracle_records(first):  # wandb 0.31 splits a histogram into nested items
        row = {tuple(it.nested_key): json.loads(it.value_json) for it in rec.history.item}
        if row.get(("gradients/fc.weight", "_type")) == "histogram":
            want.append((row[("_step",)], {k: row[("gradients/fc.weight", k)]
                                           for k in ("values", "bins")}))
    got = [h for h in read_all(first).histograms if h.tag == "gradients/fc.weight"]
    assert len(got) == len(want) == 6
    for h, (step, js) in zip(got, want):
        assert h.step == step and h.run == "probe-run"
        np.testing.assert_array_equal(h.bucket, js["values"])
        np.testing.assert_array_equal(h.bucket_limit, js["bins"][1:])
        assert h.min == js["bins"][0] and h.max == js["bins"][-1] and h.num == 4


def test_resumed_run_feeds_the_same_run(wandb_dir):
    store = Store()
    w = Watcher([wandb_dir], store)
    w.load_once()
    assert store.runs() == ["probe-run"]
    s = store.series("probe-run", "loss")
    want = {}
    for f in run_files(wandb_dir):
        for step, value in zip(oracle_points(f)["loss"][0], oracle_points(f)["loss"][2]):
            want.setdefault(step, []).append(value)
    assert list(s.step) == sorted(want) and len(want) == 65
    assert [list(s.value[s.step == k]) for k in sorted(want)] == [want[k] for k in sorted(want)]
    assert sorted(w.files()["probe-run"]) == [str(p) for p in run_files(wandb_dir)]


def test_wandb_folder_gives_no_junk_and_no_duplicates(wandb_dir):
    """debug-internal.log, logs/, tmp/ and the latest-run link add nothing."""
    assert (wandb_dir / "wandb" / "latest-run").is_symlink()
    assert (wandb_dir / "wandb" / "debug-internal.log").exists()
    store = Store()
    w = Watcher([wandb_dir / "wandb"], store)
    w.load_once()
    files = [f for fs in w.files().values() for f in fs]
    assert sorted(files) == [str(p) for p in run_files(wandb_dir)]
    assert store.runs() == ["probe-run"]
    assert not store.problems


def test_crashed_run_partial_last_block_is_not_an_error(wandb_dir, tmp_path):
    src = run_files(wandb_dir)[0]
    data = src.read_bytes()
    want = oracle_points(src)
    for cut in (100, 32768 + 3, 40000, len(data) - 5):
        f = tmp_path / f"run-cut{cut}.wandb"
        f.write_bytes(data[:cut])
        reader = WandbSource(f, tmp_path)
        first = reader.poll()
        assert not first.problems, cut
        partial = ours(first)
        for tag, (s, _, v) in partial.items():  # a prefix of what wandb recorded
            np.testing.assert_array_equal(v, want[tag][2][: len(v)])
            np.testing.assert_array_equal(s, want[tag][0][: len(s)])
        with open(f, "ab") as fh:  # the writer comes back (or the rest is copied in)
            fh.write(data[cut:])
        rest = reader.poll()
        assert not rest.problems and not rest.resets
        for tag, (s, w, v) in ours(rest).items():
            n = len(partial.get(tag, ([],))[0])
            np.testing.assert_array_equal(v, want[tag][2][n:], err_msg=tag)
        reader.close()


def test_live_appends_are_seen_within_a_second(wandb_dir, tmp_path):
    """wandb-core writes its run file a 32 KiB block at a time: each block, often cut in
    the middle of a record, shows up live."""
    data = run_files(wandb_dir)[0].read_bytes()
    run = tmp_path / "wandb" / "offline-run-20260101_000000-probe01"
    run.mkdir(parents=True)
    f = run / "run-probe01.wandb"
    f.write_bytes(data[:7])
    store = Store()
    w = Watcher([tmp_path], store)
    w.start()
    try:
        assert w.loaded.wait(5)
        for end in range(32768, len(data) + 32768, 32768):
            with open(f, "ab") as fh:
                fh.write(data[fh.tell() : end])
            got = read_all_prefix(data[:end], tmp_path)
            n = len(got.get("loss", ([],))[0])
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.0:
                s = store.series("probe-run", "loss")
                if n == 0 or (s is not None and len(s) == n):
                    break
                time.sleep(0.02)
            s = store.series("probe-run", "loss")
            assert n == 0 or (s is not None and len(s) == n), (end, n)
        assert len(store.series("probe-run", "loss")) == 60
    finally:
        w.stop()


def read_all_prefix(data: bytes, tmp: Path) -> dict:
    f = tmp / "prefix" / "run-x.wandb"
    f.parent.mkdir(exist_ok=True)
    f.write_bytes(data)
    return ours(read_all(f))


def test_corrupt_fragment_is_skipped_and_reading_goes_on(tmp_path):
    w = RunWriter(tmp_path / "run-c1.wandb", "c1", "corrupt")
    for i in range(3000):
        w.log({"loss": float(i)}, wall=1.7e9 + i)
    w.finish()
    data = bytearray(w.path.read_bytes())
    data[1000] ^= 0xFF  # inside a fragment of block 0
    w.path.write_bytes(bytes(data))
    up = read_all(w.path)
    assert len(up.problems) == 1 and "corrupt fragment" in up.problems[0].message
    steps = ours(up)["loss"][0]
    assert 0 < len(steps) < 3000 and steps[-1] == 2999  # block 1 onwards read
    assert steps[0] == 0 and np.all(np.diff(steps) > 0)


def test_not_a_wandb_file_is_one_clear_message(tmp_path):
    f = tmp_path / "run-bad.wandb"
    f.write_bytes(b"hello, this is not a run file at all\n")
    assert registry.choose(f) is None  # a .wandb name without the header: not ours
    src = WandbSource(f, tmp_path)
    up = src.poll()
    assert [p.severity for p in up.problems] == ["error"]
    assert "not a W&B run file" in up.problems[0].message
    assert not src.poll()


def test_writer_output_reads_back_with_wandbs_protobuf(tmp_path):
    w = RunWriter.create(tmp_path, "wr1", "written", config={"lr": 0.1, "opt": {"b1": 0.9}})
    rows = [{"loss": 1 / (i + 1), "m": {"a": float(i), "b": math.nan if i == 2 else 1.0}}
            for i in range(50)]
    for i, r in enumerate(rows):
        w.log(r, wall=1.7e9 + i)
    w.log({f"k{j}": j for j in range(3000)})
    w.finish()
    recs = oracle_records(w.path)
    assert recs[0].run.display_name == "written" and recs[0].run.run_id == "wr1"
    assert json.loads(recs[0].run.config.update[0].value_json) == 0.1
    assert recs[-1].HasField("exit")
    assert_same(ours(read_all(w.path)), oracle_points(w.path))
    assert (tmp_path / "wandb" / "latest-run").resolve() == w.path.parent


def test_two_runs_with_one_display_name_stay_apart(tmp_path):
    wreader._claims.clear()
    for rid in ("aaa", "bbb"):
        w = RunWriter.create(tmp_path, rid, "baseline")
        w.log({"loss": 1.0})
        w.finish()
    store = Store()
    Watcher([tmp_path], store).load_once()
    assert sorted(store.runs()) == ["baseline", "baseline (bbb)"]


def test_run_without_display_name_is_named_by_id(tmp_path):
    w = RunWriter(tmp_path / "wandb" / "run-20260101_000000-xyz9" / "run-xyz9.wandb", "xyz9")
    w.log({"loss": 2.0})
    up = read_all(w.path)
    assert [b.run for b in up.scalars] == ["xyz9"]
    w.close()


def test_empty_new_file_waits_quietly(tmp_path):
    f = tmp_path / "run-new.wandb"
    f.write_bytes(b"")
    assert registry.choose(f) is wreader
    src = WandbSource(f, tmp_path)
    assert not src.poll()
    f.write_bytes(struct.pack("<4sHB", b":W&B", 0xBEE1, 0))
    assert not src.poll()


def test_an_ended_run_is_finished_not_stalled(tmp_path):
    from mlmon_tui.analysis.monitor import HealthMonitor

    walls = {}
    for rid, code in (("ok1", 0), ("bad1", 1), ("live1", None)):
        w = RunWriter.create(tmp_path / rid, rid, rid)
        for i in range(50):
            w.log({"loss": 1.0 / (i + 1)}, wall=1.7e9 + i)
        walls[rid] = 1.7e9 + 49
        if code is None:
            w.close()
        else:
            w.finish(code)
    store = Store()
    Watcher([tmp_path], store).load_once()
    mon = HealthMonitor()
    found = mon.update(store, now=1.7e9 + 49 + 600)  # ten minutes after the last row
    stalled = {f.run for f in found if f.kind == "stall"}
    assert stalled == {"live1/live1"}
    assert mon.run_states["ok1/ok1"] == "finished" and mon.run_states["bad1/bad1"] == "crashed"


def test_real_offline_runs_from_other_projects_equal_wandbs_records():
    """A 2023 run (wandb's older Python writer) from shared/real-logs: every point, and its
    folder gives that one run only (no debug.log, no wandb-summary.json)."""
    from reallogs import REAL_LOGS

    files = sorted(REAL_LOGS.glob("*/wandb/*run-*/run-*.wandb"))
    if not files:
        pytest.skip("real logs absent")
    for f in files:
        up = read_all(f)
        assert not up.problems, f
        assert_same(ours(up), oracle_points(f))
        store = Store()
        Watcher([f.parent.parent], store).load_once()
        assert len(store.runs()) == 1 and not store.problems, f
