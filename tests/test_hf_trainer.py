"""trainer_state.json written by transformers' own TrainerState, rewritten as training goes."""

import dataclasses
import json
import os

import pytest

from mlmon_tui.sources.logs import csvlog
from mlmon_tui.sources.logs import hf_trainer
from mlmon_tui.sources.logs import jsonl
from mlmon_tui.sources.logs.registry import read_head
from mlmon_tui.store.store import Store

try:  # the Trainer's own state class, if transformers is installed
    from transformers.trainer_callback import TrainerState
except ImportError:  # the tests that need it skip
    TrainerState = None


def trainer_state(**kw):
    if TrainerState is None:
        pytest.skip("transformers not installed: its TrainerState writes trainer_state.json")
    return TrainerState(**kw)


def train(state, steps, eval_every=None):
    for step in steps:
        state.global_step = step
        state.epoch = step / 100
        state.log_history.append({"loss": 1.0 / step, "grad_norm": 2.0, "learning_rate": 1e-4,
                                  "epoch": state.epoch, "step": step})
        if eval_every and step % eval_every == 0:
            state.log_history.append({"eval_loss": 0.5, "eval_runtime": 1.5, "epoch": state.epoch,
                                      "step": step})


@pytest.fixture
def sources():
    opened = []
    yield opened
    for s in opened:
        s.close()


def open_hf(sources, path, root):
    src = hf_trainer.open_source(path, root)
    sources.append(src)
    return src


def test_rewrites_send_only_new_points_and_meta(tmp_path, sources):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "trainer_state.json"
    state = trainer_state(max_steps=400, num_train_epochs=4)
    train(state, range(10, 110, 10), eval_every=50)
    state.save_to_json(str(path))
    assert hf_trainer.probe(path, read_head(path)) == 90
    assert jsonl.probe(path, read_head(path)) == 0 and csvlog.probe(path, read_head(path)) == 0
    src = open_hf(sources, path, tmp_path)
    assert src.run == "out"
    store = Store()
    update = src.poll()
    assert update.meta == {"out": {"max_steps": 400, "num_train_epochs": 4,
                                   "hparams": {"max_steps": 400, "num_train_epochs": 4}}}
    store.apply(update)
    assert store.series("out", "loss").step.tolist() == list(range(10, 110, 10))
    assert store.series("out", "eval_loss").step.tolist() == [50, 100]
    assert not src.poll()

    train(state, range(110, 210, 10), eval_every=50)
    state.save_to_json(str(path))  # the whole file again, longer
    update = src.poll()
    assert not update.resets and not update.meta
    assert {b.tag: len(b) for b in update.scalars}["loss"] == 10
    store.apply(update)
    assert store.series("out", "loss").step.tolist() == list(range(10, 210, 10))
    assert store.series("out", "eval_loss").step.tolist() == [50, 100, 150, 200]


def test_checkpoint_copies_feed_one_run_without_duplicates(tmp_path, sources):
    out = tmp_path / "out"
    state = trainer_state(max_steps=300)
    store = Store()
    opened = {}
    for ckpt in (100, 200, 300):
        train(state, range(ckpt - 90, ckpt + 10, 10), eval_every=100)
        d = out / f"checkpoint-{ckpt}"
        d.mkdir(parents=True)
        state.save_to_json(str(d / "trainer_state.json"))
        for p in sorted(out.rglob("trainer_state.json")):  # every copy polled, old ones too
            if p not in opened:
                opened[p] = open_hf(sources, p, tmp_path)
            store.apply(opened[p].poll())
    state.log_history.append({"train_loss": 0.3, "train_runtime": 99.0, "epoch": 3.0, "step": 300})
    state.save_to_json(str(out / "trainer_state.json"))
    final = open_hf(sources, out / "trainer_state.json", tmp_path)
    assert final.run == "out" and {s.run for s in opened.values()} == {"out"}
    store.apply(final.poll())
    for s in opened.values():
        store.apply(s.poll())
    assert store.runs() == ["out"]
    assert store.series("out", "loss").step.tolist() == list(range(10, 310, 10))
    assert store.series("out", "eval_loss").step.tolist() == [100, 200, 300]
    assert store.series("out", "train_loss").step.tolist() == [300]


def test_new_training_in_same_dir_resets_the_run(tmp_path, sources):
    path = tmp_path / "trainer_state.json"
    state = trainer_state()
    train(state, range(10, 60, 10))
    state.save_to_json(str(path))
    src = open_hf(sources, path, tmp_path)
    store = Store()
    store.apply(src.poll())
    state = trainer_state()
    train(state, [10, 20])
    state.save_to_json(str(path))
    update = src.poll()
    assert update.resets == [str(path)]
    store.apply(update)
    assert store.series(".", "loss").step.tolist() == [10, 20]


def test_half_written_then_broken_file(tmp_path, sources):
    path = tmp_path / "trainer_state.json"
    state = trainer_state()
    train(state, [10, 20])
    text = json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True)
    path.write_text(text[: len(text) // 2])  # caught mid-write: wait, say nothing yet
    src = open_hf(sources, path, tmp_path)
    assert not src.poll()
    update = src.poll()  # unchanged and still broken: one problem
    assert len(update.problems) == 1 and "not a valid" in update.problems[0].message
    assert not src.poll()
    state.save_to_json(str(path))
    assert {b.tag for b in src.poll().scalars} == {"loss", "grad_norm", "learning_rate", "epoch"}


@pytest.mark.parametrize("name,text", [
    ("all_results.json", '{\n  "epoch": 3.0,\n  "eval_loss": 0.42\n}\n'),
    ("train_results.json", '{\n  "train_loss": 0.1\n}\n'),
    ("trainer_state.json", '{\n  "name": "something else"\n}\n'),
])
def test_results_summaries_are_not_metric_logs(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    for mod in (hf_trainer, jsonl, csvlog):
        assert mod.probe(path, read_head(path)) == 0


def test_close_forgets_the_run(tmp_path):
    path = tmp_path / "trainer_state.json"
    state = trainer_state()
    train(state, [10])
    state.save_to_json(str(path))
    a = hf_trainer.open_source(path, tmp_path)
    assert len(a.poll().scalars) == 4
    a.close()
    b = hf_trainer.open_source(path, tmp_path)  # a monitor restarted in the same process
    assert len(b.poll().scalars) == 4
    b.close()
    assert os.path.abspath(tmp_path) not in hf_trainer._FEEDS


def test_hyper_parameters_from_training_args_config_and_trial(tmp_path, sources):
    """The Trainer's own files: training_args.bin (torch.save of TrainingArguments, read
    without importing anything), config.json (save_pretrained) and a search's trial_params."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    ckpt = tmp_path / "out" / "checkpoint-20"
    ckpt.mkdir(parents=True)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), learning_rate=3e-4,
                                          seed=7, per_device_train_batch_size=16,
                                          lr_scheduler_type="cosine", report_to=[])
    torch.save(args, ckpt / "training_args.bin")
    transformers.BertConfig(hidden_size=32, num_hidden_layers=2).save_pretrained(ckpt)
    state = TrainerState(max_steps=20, train_batch_size=16)
    state.trial_params = {"dropout": 0.25}
    train(state, range(10, 30, 10))
    state.save_to_json(str(ckpt / "trainer_state.json"))
    update = open_hf(sources, ckpt / "trainer_state.json", tmp_path).poll()
    hp = update.meta["out"]["hparams"]
    assert hp["learning_rate"] == 3e-4 and hp["seed"] == 7
    assert hp["per_device_train_batch_size"] == 16 and hp["lr_scheduler_type"] == "cosine"
    assert hp["dropout"] == 0.25 and hp["max_steps"] == 20
    assert hp["model/hidden_size"] == 32 and hp["model/model_type"] == "bert"
    assert "model/id2label" not in hp


def test_training_args_that_are_not_a_torch_zip_are_ignored(tmp_path):
    from mlmon_tui.sources.logs.hf_params import training_args_bin

    bad = tmp_path / "training_args.bin"
    bad.write_bytes(b"\x80\x04not a zip at all")
    assert training_args_bin(bad) == {}


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_training_args_pickle_runs_no_code(tmp_path):
    import pickle
    import zipfile

    from mlmon_tui.sources.logs.hf_params import training_args_bin

    marker = tmp_path / "ran"
    path = tmp_path / "training_args.bin"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("training_args/data.pkl", pickle.dumps(_Evil(marker)))
    assert training_args_bin(path) == {}
    assert not marker.exists()
