"""What a tag measures, told from its name: loss-like (lower is better), accuracy-like (higher
is better), gradient norm, learning rate, reward (reinforcement learning) or anything else."""

from __future__ import annotations

import re
from functools import lru_cache

LOSS, ACCURACY, GRAD, LR, REWARD, OTHER = "loss", "accuracy", "grad", "lr", "reward", "other"

_WORDS = re.compile(r"[a-z0-9]+")
_LR = re.compile(r"(^|[/_\-.\s])(lr|learning[_\-]?rate)($|[/_\-.\s])")
_LOSS_WORDS = {"loss", "losses", "perplexity", "ppl", "nll", "mse", "mae", "rmse", "error",
               "err", "wer", "cer", "bpb", "bpc", "entropy", "euclidean", "distance"}
_ACC_WORDS = {"acc", "accuracy", "f1", "auc", "auroc", "precision", "recall", "bleu", "rouge",
              "rouge1", "rouge2", "rougel", "iou", "miou", "dice", "map", "top1", "top5",
              "similarity", "r2", "exact", "em", "score"}
# tags of reinforcement-learning runs: their losses may rise while the agent improves
_RL_WORDS = {"reward", "rewards", "ep_rew_mean", "episode_reward", "value_loss", "policy_loss",
             "actor_loss", "critic_loss", "q_loss", "ep_len_mean", "episode_return"}


@lru_cache(maxsize=4096)
def classify(tag: str) -> str:
    name = tag.lower()
    words = _WORDS.findall(name)
    wset = set(words)
    if _is_grad_norm(name, wset):
        return GRAD
    if _LR.search(name) or name in {"lr", "learning_rate"}:
        return LR
    if "ep_rew" in name or "ep_len" in name or wset & {"reward", "rewards", "return", "returns"}:
        return REWARD
    if "episode" in wset and wset & {"length", "len", "score"}:
        return REWARD
    if wset & _LOSS_WORDS or "loss" in name:
        return LOSS
    if wset & _ACC_WORDS or "accuracy" in name or name.endswith("acc"):
        return ACCURACY
    return OTHER


def _is_grad_norm(name: str, wset: set[str]) -> bool:
    if "global_norm" in name or "grad_norm" in name or "gradient_norm" in name:
        return True
    has_grad = bool(wset & {"grad", "grads", "gradient", "gradients"}) or "grad" in name
    return has_grad and ("norm" in name or "l2" in wset)


def is_histogram_gradient(tag: str) -> bool:
    """A histogram of gradients (e.g. `gradients/conv1.weight`, `layer1.weight.grad`)."""
    name = tag.lower()
    return "grad" in name


@lru_cache(maxsize=4096)
def is_rl_tag(tag: str) -> bool:
    name = tag.lower()
    leaf = name.rsplit("/", 1)[-1]
    return classify(tag) == REWARD or leaf in _RL_WORDS or any(w in name for w in (
        "value_loss", "policy_loss", "actor_loss", "critic_loss", "policy_gradient_loss"))


_LAYER_NUM = re.compile(r"(\d+)")


def layer_sort_key(tag: str) -> tuple:
    """Natural order of per-layer tags so that `layer2` comes before `layer10`."""
    parts = _LAYER_NUM.split(tag)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def is_global_grad(tag: str) -> bool:
    """The global gradient norm rather than one layer's."""
    name = tag.lower()
    leaf = name.rsplit("/", 1)[-1]
    if name in {"grad_norm", "global_norm", "gradient_norm", "grad_norm/total", "total_norm"}:
        return True
    if leaf in {"grad_norm", "global_norm", "gradient_norm", "total_norm", "grad_norm_total",
                "total", "global"}:
        # `train/grad_norm`, `gradients/global_norm`, `grad_norm/total`
        return leaf != "total" or "grad" in name
    return False
