"""Training / validation pairs found by naming conventions.

Within one run: `train/loss`~`val/loss`, `loss`~`val_loss`, `train_loss`~`val_loss`,
`loss`~`eval_loss`, `Loss/train`~`Loss/test`, `train_acc_epoch`~`val_acc`, ...
Across two runs: Keras' TensorBoard callback writes `epoch_loss` into the runs `X/train` and
`X/validation`: those two runs form one pair per shared tag.
A validation F1, AUC or average precision (`val/f1`, `val/roc_auc_macro`, what
`Monitor.log_predictions` logs) without a training counterpart pairs with the run's training
loss: it falling while the loss keeps falling is overfitting like an accuracy falling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mlmon_tui.analysis.tags import ACCURACY, LOSS, classify

TRAIN = ("train", "training", "trn")
VAL = ("val", "valid", "validation", "eval", "evaluation", "test", "dev")
_SUFFIX = re.compile(r"(_epoch|_step)$")


@dataclass(frozen=True)
class Pair:
    train_run: str
    train_tag: str
    val_run: str
    val_tag: str
    higher_better: bool
    # set when the training side measures something else (val F1 against the training loss)
    train_higher_better: bool | None = None


@lru_cache(maxsize=4096)
def _role(tag: str) -> tuple[str, str]:
    """(role, key) of a tag: role is 'train', 'val' or '' (plain, counts as training); the key
    keeps the naming style so `train/loss` pairs with `val/loss`, not with `val_loss`."""
    low = _SUFFIX.sub("", tag.lower())
    parts = low.split("/")
    front = "/".join(parts[:-1])
    if len(parts) > 1:
        if parts[0] in TRAIN:
            return "train", "P:" + "/".join(parts[1:])
        if parts[0] in VAL:
            return "val", "P:" + "/".join(parts[1:])
        if parts[-1] in TRAIN:
            return "train", "S:" + front
        if parts[-1] in VAL:
            return "val", "S:" + front
    leaf = parts[-1]
    pre = front + "/" if front else ""
    m = re.match(r"^([a-z]+)[_\-](.+)$", leaf)
    if m and m.group(1) in TRAIN:
        return "train", "U:" + pre + m.group(2)
    if m and m.group(1) in VAL:
        return "val", "U:" + pre + m.group(2)
    m = re.match(r"^(.+)[_\-]([a-z]+)$", leaf)
    if m and m.group(2) in TRAIN:
        return "train", "E:" + pre + m.group(1)
    if m and m.group(2) in VAL:
        return "val", "E:" + pre + m.group(1)
    return "", pre + leaf


def _direction(tag: str) -> bool | None:
    cls = classify(tag)
    return {LOSS: False, ACCURACY: True}.get(cls)


def pairs_in_run(run: str, tags: list[str]) -> list[Pair]:
    train: dict[str, str] = {}
    plain: dict[str, str] = {}
    val: dict[str, list[str]] = {}
    for tag in sorted(tags):
        role, base = _role(tag)
        if role == "train":
            # prefer `train_loss_epoch` over `train_loss_step`: keep the first sorted, but an
            # `_epoch` tag wins
            if base not in train or tag.lower().endswith("_epoch"):
                train[base] = tag
        elif role == "val":
            val.setdefault(base, []).append(tag)
        else:
            plain[base] = tag
    out = []
    for base, vtags in val.items():
        t = train.get(base) or plain.get(base.split(":", 1)[-1])
        if t is None:
            continue
        hb = _direction(t)
        if hb is None:
            continue
        # one validation tag per base: prefer val over test
        v = sorted(vtags, key=lambda x: (_rank_val(x), x))[0]
        out.append(Pair(run, t, run, v, hb))
    loss = _training_loss(train, plain)
    if loss is not None:
        for base, vtags in val.items():
            if base in train or base.split(":", 1)[-1] in plain:
                continue
            leaf = _SUFFIX.sub("", base.split(":", 1)[-1].rsplit("/", 1)[-1])
            if leaf in _RANKING:
                v = sorted(vtags, key=lambda x: (_rank_val(x), x))[0]
                out.append(Pair(run, loss, run, v, True, train_higher_better=False))
    return out


_RANKING = {"f1", "f1_macro", "f1_micro", "f1_weighted", "roc_auc", "roc_auc_macro", "auc",
            "auroc", "average_precision", "ap"}


def _training_loss(train: dict[str, str], plain: dict[str, str]) -> str | None:
    """The run's training loss tag (`train/loss`, `train_loss`, `loss`...), if any."""
    for tags in (train, plain):
        found = sorted((t for t in tags.values() if _direction(t) is False),
                       key=lambda t: (not _SUFFIX.sub("", t.lower()).endswith("loss"), len(t)))
        if found:
            return found[0]
    return None


def _rank_val(tag: str) -> int:
    low = tag.lower()
    for i, word in enumerate(("val", "valid", "eval", "dev", "test")):
        if word in low:
            return i
    return 9


def find_pairs(tags_by_run: dict[str, list[str]]) -> list[Pair]:
    out = []
    for run, tags in tags_by_run.items():
        out.extend(pairs_in_run(run, tags))
    # across runs: <parent>/train with <parent>/validation (or val, eval, test)
    by_parent: dict[str, dict[str, str]] = {}
    for run in tags_by_run:
        parent, _, leaf = run.rpartition("/")
        role = "train" if leaf.lower() in TRAIN else "val" if leaf.lower() in VAL else ""
        if role:
            by_parent.setdefault(parent, {}).setdefault(role, run)
    for roles in by_parent.values():
        tr, va = roles.get("train"), roles.get("val")
        if not tr or not va:
            continue
        for tag in sorted(set(tags_by_run[tr]) & set(tags_by_run[va])):
            hb = _direction(tag)
            if hb is not None:
                out.append(Pair(tr, tag, va, tag, hb))
    return out


def is_val(run: str, tag: str) -> bool:
    """A validation / evaluation series: by its tag (`val/loss`, `eval_loss`, `Loss/test`)
    or its run (Keras' `X/validation`)."""
    leaf = run.rpartition("/")[2].lower()
    return _role(tag)[0] == "val" or leaf in VAL
