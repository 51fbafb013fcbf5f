"""Every CSV, JSON-lines, trainer_state.json and MLflow file of the real logs is read, and its
tags and point counts agree with what INVENTORY.md (made by another tool) says about it."""

import json
import math
import re

from reallogs import REAL_LOGS, REASON

import pytest

from mlmon_tui.sources.logs import csvlog
from mlmon_tui.sources.logs import hf_trainer
from mlmon_tui.sources.logs import jsonl
from mlmon_tui.sources.logs import keys
from mlmon_tui.sources.logs import mlflow
from mlmon_tui.sources.logs import registry
from mlmon_tui.store.store import Store

REAL = REAL_LOGS
pytestmark = pytest.mark.skipif(not (REAL / "INVENTORY.md").is_file(), reason=REASON)

READER = {
    "lightning_csv": csvlog, "keras_csv": csvlog, "ray_tune_progress_csv": csvlog,
    "ray_tune_result": jsonl, "hf_trainer_state": hf_trainer, "mlflow_metric": mlflow,
}


def inventory():
    """{path: (format, detail line, {tag: (n, first, last)})} for the formats read here."""
    out, cur = {}, None
    for line in (REAL / "INVENTORY.md").read_text().splitlines():
        m = re.match(r"^### (\S+) — `(.+)`$", line)
        if m:
            cur = REAL / m.group(1).replace("/", "__") / m.group(2)
            continue
        if cur is None:
            continue
        m = re.match(r"^- ([a-z_]+)\b", line)
        if m and cur not in out:
            fmt = m.group(1)
            if fmt in READER:
                out[cur] = [fmt, None, {}]
            else:
                cur = None
            continue
        if line.startswith("- ") and cur in out:
            out[cur][1] = line[2:]
            continue
        m = re.match(r"^  - `(.+?)`: n=(\d+) first (\S+) last (\S+?)(,|$)", line)
        if m and cur in out:
            out[cur][2][m.group(1)] = (int(m.group(2)), float(m.group(3)), float(m.group(4)))
    return out


INV = inventory() if (REAL / "INVENTORY.md").is_file() else {}


def by_format(*fmts):
    return sorted(p for p, (f, _, _) in INV.items() if f in fmts)


def read_all(mod, path):
    src = mod.open_source(path, REAL)
    try:
        update = src.poll()
    finally:
        src.close()
    assert not update.problems, update.problems
    got = {}
    for b in update.scalars:
        assert b.tag not in got, f"{b.tag} split over batches"
        got[b.tag] = b
    return src, got


def close(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=2e-3, abs=1e-9)


def test_inventory_lists_every_format_read_here():
    counts = {}
    for f, _, _ in INV.values():
        counts[f] = counts.get(f, 0) + 1
    assert counts == {"lightning_csv": 9, "keras_csv": 4, "ray_tune_progress_csv": 1,
                      "ray_tune_result": 1, "hf_trainer_state": 4, "mlflow_metric": 37}
    assert all(p.is_file() for p in INV)


@pytest.mark.parametrize("path", list(INV), ids=lambda p: str(p.relative_to(REAL)))
def test_registry_picks_the_right_reader(path):
    fmt = INV[path][0]
    chosen = registry.choose(path)
    if fmt == "ray_tune_progress_csv":  # result.json beside it carries the same results
        assert chosen is None and (path.parent / "result.json").is_file()
        assert csvlog.probe(path, registry.read_head(path)) == 0
    else:
        assert chosen is READER[fmt]


@pytest.mark.parametrize("path", by_format("lightning_csv", "keras_csv", "ray_tune_progress_csv"),
                         ids=lambda p: str(p.relative_to(REAL)))
def test_csv_tags_counts_first_last(path):
    _, _, want = INV[path]
    _, got = read_all(csvlog, path)
    # the inventory lists every numeric column but the x one; a Unix-time column is our wall
    want = {t: v for t, v in want.items() if t.lower() not in keys.TIME_KEYS}
    assert sorted(got) == sorted(want)
    for tag, (n, first, last) in want.items():
        b = got[tag]
        assert len(b) == n, tag
        assert close(b.value[0], first) and close(b.value[-1], last), tag
    steps = {tuple(b.step[[0, -1]]) for b in got.values() if len(b) == max(map(len, got.values()))}
    m = re.search(r"x first/last \[([\d.]+), ([\d.]+)\]", INV[path][1])
    assert (int(float(m.group(1))), int(float(m.group(2)))) in steps


def test_ray_result_json_agrees_with_progress_csv():
    (csv_path,) = by_format("ray_tune_progress_csv")
    (json_path,) = by_format("ray_tune_result")
    assert json.loads(INV[json_path][1])["lines"] == 500
    src, from_json = read_all(jsonl, json_path)
    _, from_csv = read_all(csvlog, csv_path)
    assert src.run == registry.run_name(json_path, REAL)
    assert set(from_csv) <= set(from_json)  # the JSON also has keys that came late
    assert set(from_json) - set(from_csv) == {
        "sampler_perf/mean_env_wait_ms", "sampler_perf/mean_raw_obs_processing_ms",
        "sampler_perf/mean_inference_ms", "sampler_perf/mean_action_processing_ms"}
    for tag, b in from_csv.items():
        j = from_json[tag]
        assert j.step.tolist() == b.step.tolist() == list(range(1, 501)), tag
        assert all(close(x, y) for x, y in zip(j.value.tolist(), b.value.tolist())), tag
        assert j.wall.tolist() == b.wall.tolist()  # both from the `timestamp` key


@pytest.mark.parametrize("path", by_format("hf_trainer_state"), ids=lambda p: str(p.relative_to(REAL)))
def test_trainer_state_each_copy_alone(path):
    detail = INV[path][1]
    info = json.loads(detail) if detail.endswith("}") else None
    want = {k: n for k, n in info["keys"].items() if k != "step"} if info else None
    src, got = read_all(hf_trainer, path)
    assert src.run == registry.run_name(hf_trainer.run_dir(path) / "x", REAL)
    if want is None:  # the inventory cut this line short: check the parts it shows
        m = re.search(r'"keys": (\{[^}]*\})', detail)
        want = {k: n for k, n in json.loads(m.group(1)).items() if k != "step"}
    assert {t: len(b) for t, b in got.items()} == want
    eval_loss = re.search(r'"eval_loss": (\[\[.*?\]\])', detail)
    if eval_loss and eval_loss.group(1).endswith("]]"):
        pairs = json.loads(eval_loss.group(1))
        assert list(zip(got["eval_loss"].step.tolist(), got["eval_loss"].value.tolist())) == \
            [tuple(p) for p in pairs]


@pytest.mark.parametrize("first", ["last-checkpoint/trainer_state.json", "trainer_state.json"])
def test_trainer_state_copies_make_one_run_without_duplicates(first):
    base = REAL / "P4P4N1CK__whisper-large-v2-japanese-5k-steps"
    paths = [base / first] + [p for p in (base / "trainer_state.json",
                                           base / "last-checkpoint/trainer_state.json") if p != base / first]
    counts = [{k: n for k, n in json.loads(INV[p][1])["keys"].items() if k != "step"} for p in paths]
    sources = [hf_trainer.open_source(p, REAL) for p in paths]
    store = Store()
    try:
        for s in sources:
            store.apply(s.poll())
    finally:
        for s in sources:
            s.close()
    assert store.runs() == ["P4P4N1CK__whisper-large-v2-japanese-5k-steps"]
    run = store.runs()[0]
    got = {t: len(store.series(run, t)) for t in store.tags(run)}
    assert set(got) == set(counts[0]) | set(counts[1])
    for tag, n in got.items():
        # the copy read first gives all it has; the other adds only later steps
        assert n == counts[0].get(tag, counts[1].get(tag)), tag
        steps = store.series(run, tag).step
        assert (steps[1:] >= steps[:-1]).all()


@pytest.mark.parametrize("path", by_format("mlflow_metric"), ids=lambda p: str(p.relative_to(REAL)))
def test_mlflow_points_first_last(path):
    info = json.loads(INV[path][1])
    src, got = read_all(mlflow, path)
    assert list(got) == [path.name]
    b = got[path.name]
    assert len(b) == info["points"]
    for i, (ts, value, step) in ((0, info["first"]), (-1, info["last"])):
        assert b.step[i] == int(step) and close(b.value[i], float(value))
        assert b.wall[i] == int(ts) / 1000
    exp_name = mlflow._yaml_field(path.parents[2] / "meta.yaml", "name")
    assert src.run.split("/")[-2] == exp_name and src.run.split("/")[0] == path.relative_to(REAL).parts[0]


def test_every_other_real_file_is_ignored_quietly():
    """tfevents, YAML, params/tags files, wandb files, JSON documents, text: no reader of
    these formats claims them."""
    others = [p for p in REAL.rglob("*") if p.is_file() and p not in INV and p.parent != REAL]
    assert len(others) > 150
    for p in others:
        head = registry.read_head(p)
        for mod in (csvlog, jsonl, hf_trainer, mlflow):
            assert mod.probe(p, head) == 0, (mod.__name__, p)
