"""PyTorch: per-layer activation statistics and update-to-weight ratios, for `watch`.

Activations: a global forward hook (one handle, called at the end of every module's forward
and reading the outputs of the watched ones: by default every leaf module), put there by a
pre-hook on the model for every `every`-th training forward pass (model in train mode, grad
enabled) and taken away when the model's forward ends. The pre-hook itself is there only
from the end of the backward pass before a logging pass to the end of the logging pass's
backward (and until the first backward pass): the backward passes count the forwards the
pre-hook does not see, so the other passes run without any hook. A hook
reduces the output, on its device and without a sync, to one small float32 vector (mean,
std, exact-zero fraction, fraction at the saturation bounds, min, max, and a `BINS`-bucket
histogram between min and max) and drops the output. When the whole forward pass has
finished, the vectors of all layers are joined and moved to the CPU with one `.tolist()`:
the only device sync, on logging passes only. On the CPU a hook only copies its sample and
all layers are reduced together in numpy at the end of the pass (`activation_numpy`).
Nothing is kept past the pass. An output of more than 4,096 values is read through an
evenly strided sample of that size (fractions, mean and std are then estimates, within
about 1-2 %; histogram counts are scaled up to the full size, whole numbers). The results
wait for the pass's backward, whose gradient norms travel in the same client message.

Tags (layer = the module's name in the model): `act/<layer>/mean`, `act/<layer>/std`,
`act/<layer>/zero_frac` (dead ReLUs), `act/<layer>/saturated` (tanh, sigmoid, hardtanh and
its kin only) and the histogram `act/<layer>`.

Update ratios: `torch_ratios`.
"""

from __future__ import annotations

import functools
import math

import torch
from torch.nn.modules.module import register_module_forward_hook

from mlmon_tui.integrations.activation_numpy import (BINS, NEAR, SAMPLE, batch_stats,
                                                     cpu_sample, stride)

from mlmon_tui.client import Monitor

HIST_SAMPLE = SAMPLE  # the sample is binned whole (32 buckets need no more)
SATURATING = {  # module type -> (low bound, high bound) of its output
    torch.nn.Tanh: (-1.0, 1.0),
    torch.nn.Sigmoid: (0.0, 1.0),
    torch.nn.Softsign: (-1.0, 1.0),
}


def saturation_bounds(module: torch.nn.Module) -> tuple[float, float] | None:
    if isinstance(module, torch.nn.Hardtanh):  # also ReLU6
        return float(module.min_val), float(module.max_val)
    for cls, b in SATURATING.items():
        if isinstance(module, cls):
            return b
    return None


def activation_stats(out: torch.Tensor, bounds: tuple[float, float] | None,
                     device_path: bool = False) -> torch.Tensor | list[float]:
    """[mean, std, zero fraction, saturated fraction (-1: n/a), min, max, BINS counts],
    from an evenly strided sample of at most SAMPLE values (an odd stride, so that it does
    not fall in step with power-of-two channel or spatial sizes; no random numbers, so the
    training's random stream is untouched). Histogram counts are whole numbers that add up to
    the full size (the sample's counts scaled up, rounded cumulatively). On the CPU numpy does
    it and returns a list (`device_path` forces the torch ops used on other devices, which
    return a tensor); hooks batch the CPU layers of a pass (`activation_numpy`)."""
    if not device_path:
        sample = cpu_sample(out)
        if sample is not None:
            return batch_stats([sample[0]], [sample[1]], [bounds])[0]
    return _stats_torch(out, bounds)


@torch.no_grad()
def _stats_torch(out: torch.Tensor, bounds) -> torch.Tensor:
    x = out.detach().reshape(-1)
    full = x.numel()
    if full > SAMPLE:
        x = x[::stride(full, SAMPLE)]
    x = x.float()
    n = x.numel()
    mean = x.mean()
    std = (x - mean).square_().mean().sqrt_()  # two passes: faster than std_mean on CPU
    zero = (x == 0).sum() / n
    if bounds is not None:
        lo, hi = bounds
        eps = NEAR * (hi - lo)
        sat = ((x <= lo + eps) | (x >= hi - eps)).sum() / n
    else:
        sat = torch.full((), -1.0, device=x.device)
    mn, mx = torch.aminmax(x)
    h = x
    if n > HIST_SAMPLE:
        h = x[::stride(n, HIST_SAMPLE)]
    width = (mx - mn).clamp_min(1e-30)
    idx = (h - mn).mul_(BINS / width).long().clamp_(0, BINS - 1)
    counts = torch.zeros(BINS, device=x.device, dtype=torch.long).index_add_(
        0, idx, torch.ones_like(idx))
    if h.numel() != full:  # scaled to the full size, rounded so that the sum stays exact
        m = h.numel()
        cum = counts.cumsum(0).mul_(full).add_(m // 2).div_(m, rounding_mode="floor")
        counts = torch.diff(cum, prepend=cum.new_zeros(1))
    return torch.cat([torch.stack([mean, std, zero, sat, mn, mx]), counts.float()])


class ActivationHooks:
    """Activation statistics of the chosen modules; see the module docstring. The global hook
    is registered by the model's pre-hook on logging passes only and removed when the pass
    ends, and the pre-hook is there only around logging passes, so on the other passes the
    model and its leaves run without any hook (PyTorch's fast path). A training forward that
    no backward follows counts only while the pre-hook is there (it always is with every=1)."""

    def __init__(self, model: torch.nn.Module, watch, modules=None, prefix: str = "act"):
        self.watch = watch  # the GradWatch: monitor, every, step_fn, errors
        self.prefix = prefix
        self.forwards = 0
        self._active = False
        self._pending: list[tuple[str, torch.Tensor | list[float]]] = []
        self._armed: list = []  # the leaf hooks' handles, during a logging pass
        self._tag_cache: dict[str, tuple[str, str, str, str, str]] = {}
        self.held: tuple[int, dict, dict] | None = None  # a logging pass's, until its backward
        chosen = _choose(model, modules)
        self.layers = [name for name, _ in chosen]
        self._root = model
        self._watched = {m: (name, saturation_bounds(m)) for name, m in chosen}
        self._counted = False  # the pre-hook counted a forward that no backward followed yet
        self._pre = None  # the model's pre-hook, while the next forward may log
        self._removed = False
        self._arm()  # until the first backward pass, every forward is seen and counted

    def _arm(self) -> None:
        if self._pre is None and not self._removed:
            self._pre = self._root.register_forward_pre_hook(self._on_start)

    def after_backward(self) -> None:
        """At the end of each backward pass (the GradWatch's callback): the forward before it
        is counted (the pre-hook did, or it ran unseen), and the pre-hook is there only when
        the next forward is a logging one; a logging forward that raised is over."""
        if self._counted:
            self._counted = False
        else:
            self.forwards += 1
        if self._armed:
            self._disarm()
        if (self.forwards + 1) % self.watch.every == 0:
            self._arm()
        elif self._pre is not None:
            self._pre.remove()
            self._pre = None

    def _on_start(self, model, _inputs) -> None:
        if self._armed:  # the last logging pass raised before its end
            self._disarm()
        if self.held is not None:  # no backward pass took it: send it alone
            self.send(*self.take())
        self._pending = []
        self._active = False
        if model.training and torch.is_grad_enabled():
            self.forwards += 1
            self._counted = True
            if self.forwards % self.watch.every == 0:
                self._active = True
                self._armed = [register_module_forward_hook(self._on_module)]

    def _disarm(self) -> None:
        for h in self._armed:
            h.remove()
        self._armed = []

    def _on_module(self, module, _inputs, out) -> None:
        """Every module's forward end during a logging pass (one global hook: one handle to
        put and take away, whatever the number of layers)."""
        w = self._watched.get(module)
        if w is not None and self._active and isinstance(out, torch.Tensor) \
                and out.is_floating_point() and out.numel():
            try:  # a CPU output: a small copy of its sample, reduced with the others at the
                sample = cpu_sample(out)  # end of the pass; else reduced now, on its device
                self._pending.append((w[0], _stats_torch(out, w[1]) if sample is None
                                      else (*sample, w[1])))
            except Exception:
                self.watch.errors += 1
        if module is self._root:
            self._on_end()

    def _on_end(self) -> None:
        if self._armed:
            self._disarm()
        if not self._active or not self._pending:
            return
        pending, self._pending = self._pending, []
        self._active = False
        try:
            step = self.watch.step_fn() if self.watch.step_fn is not None else self.forwards
            tensors = [v for _, v in pending if isinstance(v, torch.Tensor)]
            if tensors:  # the one sync, now (CPU outputs are reduced with the others)
                dev = tensors[0].device
                done = iter(torch.cat([v.to(dev) for v in tensors]).tolist())
                pending = [(n, v if not isinstance(v, torch.Tensor)
                            else [next(done) for _ in range(6)]
                            + [int(next(done)) for _ in range(BINS)]) for n, v in pending]
            # held for the backward pass, whose gradient norms go in the same message; the
            # CPU samples are reduced where the message is sent (a Monitor's sending thread)
            self.held = (step, functools.partial(self._reduce, pending))
        except Exception:
            self.watch.errors += 1

    def _reduce(self, pending: list, extra: dict | None = None) -> tuple[dict, dict]:
        """(metrics, histograms) from the pass's per-layer figures or CPU samples (reduced
        together here), with `extra` metrics added."""
        cpu = [v for _, v in pending if isinstance(v, tuple)]
        if cpu:
            done = iter(batch_stats(*zip(*cpu)))
            pending = [(n, next(done) if isinstance(v, tuple) else v) for n, v in pending]
        k = 6 + BINS
        metrics, hists = {}, {}
        for name, v in pending:
            mean, std, zero, sat, mn, mx = v[:6]
            tag, t_mean, t_std, t_zero, t_sat = self._tags(name)
            metrics[t_mean] = mean
            metrics[t_std] = std
            metrics[t_zero] = zero
            if sat >= 0:
                metrics[t_sat] = sat
            if not (math.isfinite(mn) and math.isfinite(mx)):
                continue  # NaN or inf in the output: the scalars say so, no histogram
            if mx <= mn:  # one value only: one bucket of zero width
                hists[tag] = ([mn, mn], [sum(v[6:k])])
            else:  # equal-width buckets: (low, high) stands for the edges
                hists[tag] = ([mn, mx], v[6:k])
        if extra:
            metrics.update(extra)
        return metrics, hists

    def _tags(self, name: str) -> tuple[str, str, str, str, str]:
        tags = self._tag_cache.get(name)
        if tags is None:
            tag = f"{self.prefix}/{name}"
            tags = self._tag_cache[name] = (tag, f"{tag}/mean", f"{tag}/std",
                                            f"{tag}/zero_frac", f"{tag}/saturated")
        return tags

    def take(self) -> tuple | None:
        """The last logging pass's (step, figures) not sent yet, if any."""
        held, self.held = self.held, None
        return held

    def send(self, step: int, figures, extra: dict | None = None) -> None:
        """Send a logging pass's figures (with `extra` metrics) in one message: reduced on a
        Monitor's sending thread, or here for any other sink."""
        mon = self.watch.monitor
        if extra:
            figures = functools.partial(figures, extra=extra)
        if isinstance(mon, Monitor):
            mon.log_later(step, figures)
            return
        metrics, hists = figures()
        mon.log(step, metrics)
        log_h = getattr(mon, "log_histograms", None)
        if log_h is not None:  # any other sink gets every edge
            log_h(step, {tag: (_edges(e, len(c)), c) for tag, (e, c) in hists.items()})

    def remove(self) -> None:
        self._disarm()
        if self.held is not None:
            try:
                self.send(*self.take())
            except Exception:
                self.watch.errors += 1
        self._removed = True
        if self._pre is not None:
            self._pre.remove()
            self._pre = None


def _edges(lo_hi: list[float], k: int) -> list[float]:
    lo, hi = lo_hi
    if k == 1:
        return [lo, hi]
    w = (hi - lo) / k
    return [lo + w * i for i in range(k)] + [hi]


def _choose(model: torch.nn.Module, modules) -> list[tuple[str, torch.nn.Module]]:
    """Leaf modules by default; else those whose type is in `modules` (types) or whose
    name is in it (strings)."""
    named = [(n, m) for n, m in model.named_modules() if n]
    if modules is None:
        return [(n, m) for n, m in named if not any(True for _ in m.children())]
    types = tuple(t for t in modules if isinstance(t, type))
    names = {t for t in modules if isinstance(t, str)}
    return [(n, m) for n, m in named if (types and isinstance(m, types)) or n in names]
