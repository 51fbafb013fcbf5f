"""Hyper-parameters of a Hugging Face Trainer run, from the files beside `trainer_state.json`.

- `trainer_state.json`: `trial_params` (a hyper-parameter search's trial) and the batch size;
- `training_args.bin` (the Trainer's `torch.save(args)`) or a `training_args.json`: the
  `TrainingArguments` that matter for a sweep (learning rate, batch size, seed, ...);
- `config.json`: the model configuration's scalar values, under `model/`.

`training_args.bin` is a pickle: it is read with an unpickler that imports nothing (every
class becomes a plain record of its state), so reading it runs no code from the file.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

# TrainingArguments fields a sweep varies, in the order shown
TRAINING_KEYS = (
    "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
    "num_train_epochs", "max_steps", "weight_decay", "warmup_steps", "warmup_ratio",
    "lr_scheduler_type", "optim", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm",
    "label_smoothing_factor", "seed", "fp16", "bf16",
)
STATE_KEYS = ("train_batch_size", "num_train_epochs", "max_steps")
CONFIG_SKIP = {"transformers_version", "_name_or_path", "architectures", "torch_dtype",
               "dtype", "id2label", "label2id"}
MAX_BYTES = 4 << 20


class _Record:
    """Any pickled object: its constructor arguments and state, nothing run."""

    _args: tuple = ()

    def __init__(self, *args, **kwargs) -> None:
        self._args = args

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)

    def __call__(self, *args, **kwargs):  # an enum or a class used as a constructor
        return _Record(*args)


class _NoImports(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        return _Record

    def persistent_load(self, pid):
        return None


def _plain(value):
    """Enums (pickled as `Cls(value)`) become their value; other objects are dropped."""
    if isinstance(value, _Record):
        return _plain(value._args[0]) if len(value._args) == 1 else None
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return None


def training_args_bin(path: Path) -> dict:
    """The `TrainingArguments` saved by the Trainer, as a dict of plain values ({} if not)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return {}
        with zipfile.ZipFile(path) as z:
            name = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
            data = z.read(name) if name else b""
    except (OSError, zipfile.BadZipFile, KeyError):
        return {}
    try:
        obj = _NoImports(io.BytesIO(data)).load()
    except Exception:
        return {}
    fields = getattr(obj, "__dict__", {}) if isinstance(obj, _Record) else {}
    return {k: _plain(v) for k, v in fields.items() if not k.startswith("_")}


def _json(path: Path) -> dict:
    try:
        if path.stat().st_size > MAX_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def hf_hparams(state: dict, dirs: list[Path]) -> dict:
    """Hyper-parameters from a parsed trainer_state.json and the directories beside it (the
    file's own first, then the run's output directory)."""
    out: dict = {}
    args: dict = {}
    config: dict = {}
    for d in dirs:
        if not args:
            args = _json(d / "training_args.json") or training_args_bin(d / "training_args.bin")
        if not config:
            config = _json(d / "config.json")
    for k in TRAINING_KEYS:
        v = args.get(k)
        if isinstance(v, (bool, int, float, str)) and not (k == "max_steps" and v == -1):
            out[k] = v
    for k in STATE_KEYS:
        v = state.get(k)
        if isinstance(v, (int, float)) and v and k not in out:
            out[k] = v
    trial = state.get("trial_params")
    if isinstance(trial, dict):
        out.update({k: v for k, v in trial.items() if isinstance(v, (bool, int, float, str))})
    for k, v in config.items():
        if k not in CONFIG_SKIP and isinstance(v, (bool, int, float, str)) and v is not None:
            out[f"model/{k}"] = v
    return out
