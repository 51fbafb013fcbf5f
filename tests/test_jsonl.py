"""JSON-lines reader against files written line by line with json.dumps, tailed live."""

import json
import math
import os

import pytest

from mlmon_tui.sources.logs import jsonl
from mlmon_tui.sources.logs.registry import read_head
from mlmon_tui.store.store import Store


def append(path, *records, end="\n"):
    with open(path, "a") as f:
        for r in records:
            f.write(json.dumps(r) + end)


def tags(update):
    return {b.tag: b for b in update.scalars}


def test_flat_and_metrics_objects_nested_keys_nan_and_bools(tmp_path):
    path = tmp_path / "run1" / "metrics.jsonl"
    path.parent.mkdir()
    append(path,
           {"step": 1, "wall_time": 1_700_000_000.5, "run": "run1", "metrics": {"loss": 2.0}},
           {"step": 2, "wall_time": 1_700_000_001.5, "loss": float("nan"), "train": {"acc": 0.5},
            "done": False, "note": "warm-up", "hist": [1, 2]},
           {"step": 3, "loss": float("inf"), "grad_norm": -float("inf")})
    assert jsonl.probe(path, read_head(path)) == 50
    src = jsonl.open_source(path, tmp_path)
    assert src.run == "run1"
    got = tags(src.poll())
    assert sorted(got) == ["grad_norm", "loss", "train/acc"]
    assert got["loss"].step.tolist() == [1, 2, 3]
    assert got["loss"].value[0] == 2.0 and math.isnan(got["loss"].value[1])
    assert got["loss"].value[2] == math.inf and got["grad_norm"].value[0] == -math.inf
    assert got["loss"].wall[:2].tolist() == [1_700_000_000.5, 1_700_000_001.5]
    assert got["train/acc"].step.tolist() == [2]


def test_append_half_written_line_truncate_and_replace(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text("")
    src = jsonl.open_source(path, tmp_path)
    store = Store()
    assert not src.poll()
    append(path, {"_step": 0, "loss": 1.0}, {"_step": 1, "loss": 0.8})
    with open(path, "a") as f:
        f.write('{"_step": 2, "lo')
    store.apply(src.poll())
    assert store.series(".", "loss").step.tolist() == [0, 1]
    assert not src.poll()
    with open(path, "a") as f:
        f.write('ss": 0.6}\n')
    store.apply(src.poll())
    assert store.series(".", "loss").value.tolist() == [1.0, 0.8, 0.6]

    with open(path, "r+") as f:  # truncated in place, restarted
        f.truncate(0)
    append(path, {"_step": 0, "loss": 5.0})
    update = src.poll()
    assert update.resets == [str(path)]
    store.apply(update)
    assert store.series(".", "loss").value.tolist() == [5.0]

    tmp = tmp_path / "new.jsonl"
    append(tmp, *({"_step": i, "loss": 10.0 + i} for i in range(20)))
    os.replace(tmp, path)
    update = src.poll()
    assert update.resets == [str(path)]
    store.apply(update)
    assert store.series(".", "loss").step.tolist() == list(range(20))


def test_bad_lines_are_reported_once_and_skipped(tmp_path):
    path = tmp_path / "m.jsonl"
    with open(path, "w") as f:
        f.write('{"step": 1, "loss": 1}\nnot json\n[1, 2]\n{"step": 2, "loss": 2}\n')
    src = jsonl.open_source(path, tmp_path)
    update = src.poll()
    assert tags(update)["loss"].step.tolist() == [1, 2]
    assert len(update.problems) == 1 and "line 2" in update.problems[0].message
    with open(path, "a") as f:
        f.write("garbage\n")
    assert not src.poll().problems


def test_no_step_key_uses_line_number_and_ms_timestamps(tmp_path):
    path = tmp_path / "events.jsonl"
    append(path, *({"timestamp": 1_700_000_000_000 + i, "loss": i} for i in range(3)))
    got = tags(jsonl.open_source(path, tmp_path).poll())
    assert list(got) == ["loss"]
    assert got["loss"].step.tolist() == [0, 1, 2]
    assert got["loss"].wall[1] == pytest.approx(1_700_000_000.001)


def test_ray_result_json_lines_config_goes_to_hparams(tmp_path):
    path = tmp_path / "result.json"
    for i in range(1, 3):
        append(path, {"training_iteration": i, "timesteps_total": 4000 * i, "episode_reward_mean": 1.5 * i,
                      "config": {"lr": 5e-5, "model": {"fcnet": [256]}}, "date": "2021-04-11"})
    assert jsonl.probe(path, read_head(path)) > 0
    update = jsonl.open_source(path, tmp_path).poll()
    got = tags(update)
    assert sorted(got) == ["episode_reward_mean", "timesteps_total"]
    assert got["timesteps_total"].step.tolist() == [1, 2]
    assert update.meta == {".": {"hparams": {"lr": 5e-5}}}


@pytest.mark.parametrize("name,text", [
    ("params.json", '{\n  "lr": 0.1,\n  "layers": 3\n}\n'),
    ("config.json", '{"hidden_size": 768, "num_layers": 12}\n'),
    ("wandb-summary.json", '{"_wandb": {"runtime": 534}}'),
    ("all_results.json", '{"epoch": 3.0, "eval_loss": 0.4}\n{"x": 1}\n'),
    ("summary.json", '{"loss": 0.1}\n'),
    ("debug.log", "2023-11-30 08:17:44,866 INFO MainThread: starting\n"),
    ("notes.txt", '{"loss": 1}\n{"loss": 2}\n'),
    ("broken.jsonl", "this is not json\n"),
])
def test_probe_ignores_json_documents_and_text(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert jsonl.probe(path, read_head(path)) == 0


def test_json_lines_in_json_and_log_names_are_accepted(tmp_path):
    for name in ("metrics.json", "train.log"):
        path = tmp_path / name
        append(path, {"step": 1, "loss": 1.0})  # a live log that has just begun
        assert jsonl.probe(path, read_head(path)) > 0
        append(path, {"step": 2, "loss": 0.5})
        assert jsonl.probe(path, read_head(path)) > 0


def test_binary_junk_and_a_line_without_end(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append(path, {"step": 0, "loss": 1.0})
    with open(path, "ab") as f:
        f.write(bytes(range(256)) * 4 + b"\n")
    append(path, {"step": 1, "loss": 0.5})
    src = jsonl.open_source(path, tmp_path)
    src._tail.max_line = 4096
    update = src.poll()
    assert tags(update)["loss"].step.tolist() == [0, 1]
    assert len(update.problems) == 1 and "not a JSON object" in update.problems[0].message
    with open(path, "ab") as f:  # a writer that never ends its line
        f.write(b"x" * 10_000)
    update = src.poll()
    assert not update.scalars and "longer than 4096 bytes" in update.problems[0].message
    with open(path, "ab") as f:
        f.write(b"\n")
    append(path, {"step": 2, "loss": 0.25})
    assert tags(src.poll())["loss"].step.tolist() == [2]
