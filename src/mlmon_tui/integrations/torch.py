"""PyTorch: log the global and per-layer gradient norms after each backward pass.

    from mlmon_tui.client import Monitor
    from mlmon_tui.integrations.torch import watch

    mon = Monitor(run="mlp")
    handle = watch(model, mon, every=10)   # every 10th backward pass
    ...
    handle.remove()

Tags: `grad_norm` (L2 norm over all parameters) and `grad_norm/<layer>` where `<layer>` is a
parameter's name without its last component (`encoder.0.weight` -> `encoder.0`).

How it stays cheap: each parameter's post-accumulate-grad hook queues a callback that
autograd runs when the whole backward pass has finished. For the first `LEARN` passes every
parameter keeps its hook; then only the parameters that received a gradient in each of
those passes and came first and last in the latest one stay hooked (the layers nearest the
loss and nearest the input): one or two Python calls a pass, registered once. A backward
pass that reaches neither of them is not counted (e.g. a loss on a part of the model that
skips both). The callback counts passes; on a logging pass it takes all norms with one
`torch._foreach_norm` (on the CPU, numpy dot products), groups them per layer, and moves
them to the CPU with a single `.tolist()` (the one device sync, on logging passes only).
The step logged is the number of backward passes seen, unless `step_fn` gives another (e.g.
the optimizer step).

With `activations=True` it also logs, every `every` training forward passes, each leaf
module's activation mean, std, exact-zero fraction, saturated fraction (tanh, sigmoid,
hardtanh) and a histogram, and after every `every`-th backward pass the per-layer
`update_ratio/<layer>` (about 1e-3 for a healthy layer) and `weight_norm/<layer>`; see
`torch_activations` and `torch_ratios`. `modules` picks other modules than the leaves: types
or names.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch.autograd import Variable

LEARN = 8  # backward passes watched on every parameter before one or two are kept

_NUMPY_FLOATS = (torch.float32, torch.float64)


def _layer(name: str) -> str:
    return name.rpartition(".")[0] or name


def cpu_squared_norms(tensors) -> list[float] | None:
    """Each tensor's sum of squares by a BLAS dot product (numpy), a few times faster than
    torch's norms on the CPU; None unless every tensor is a dense float32/float64 CPU tensor
    and every sum finite (an overflow of float32 accumulation, NaN or inf are left to torch,
    which accumulates in double)."""
    out = []
    for t in tensors:
        if not t.is_cpu or t.dtype not in _NUMPY_FLOATS or t.layout != torch.strided:
            return None
        a = t.detach().numpy()
        out.append(float(np.vdot(a, a)))
    return out if math.isfinite(sum(out)) else None


class GradNorms:
    """Global and per-layer L2 gradient norms of a fixed list of named parameters."""

    def __init__(self, named_params, prefix: str = "grad_norm", per_layer: bool = True):
        self.params = [(n, p) for n, p in named_params if p.requires_grad]
        self.prefix = prefix
        self.per_layer = per_layer
        layers: dict[str, int] = {}
        self.layer_of = [layers.setdefault(_layer(n), len(layers)) for n, _ in self.params]
        self.tags = [f"{prefix}/{name}" for name in layers]
        self._index = None  # (key, index tensor) cached while the same grads are present

    @torch.no_grad()
    def compute(self) -> dict[str, float]:
        grads, idx = [], []
        for (_, p), li in zip(self.params, self.layer_of):
            if p.grad is not None:
                g = p.grad
                grads.append(g.coalesce().values() if g.is_sparse else g)
                idx.append(li)
        if not grads:
            return {}
        sq = cpu_squared_norms(grads)
        if sq is not None:
            return self._from_squares(sq, idx)
        norms = torch._foreach_norm(grads)
        dev = norms[0].device
        if any(n.dtype != torch.float32 or n.device != dev for n in norms):
            norms = [n.to(dev, torch.float32) for n in norms]
        sq = torch.stack(norms).square_()
        total = sq.sum().sqrt_().reshape(1)
        if self.per_layer:
            key = (dev, tuple(idx))
            if self._index is None or self._index[0] != key:
                self._index = (key, torch.tensor(idx, device=dev))
            per = torch.zeros(len(self.tags), device=dev, dtype=torch.float32)
            per.index_add_(0, self._index[1], sq)
            vals = torch.cat([total, per.sqrt()]).tolist()
            present = set(idx)
            out = {self.prefix: vals[0]}
            out.update((t, v) for i, (t, v) in enumerate(zip(self.tags, vals[1:]))
                       if i in present)
            return out
        return {self.prefix: total.item()}

    def _from_squares(self, sq: list[float], idx: list[int]) -> dict[str, float]:
        out = {self.prefix: math.sqrt(sum(sq))}
        if self.per_layer:
            per = [0.0] * len(self.tags)
            for v, li in zip(sq, idx):
                per[li] += v
            for li in sorted(set(idx)):
                out[self.tags[li]] = math.sqrt(per[li])
        return out


class GradWatch:
    """The handle `watch` returns. `remove()` detaches the hooks."""

    def __init__(self, model: torch.nn.Module, monitor, every: int = 1,
                 prefix: str = "grad_norm", per_layer: bool = True,
                 step_fn: Callable[[], int] | None = None, activations: bool = False,
                 modules=None, update_ratio: bool | None = None):
        from mlmon_tui.integrations.torch_activations import ActivationHooks
        from mlmon_tui.integrations.torch_ratios import UpdateRatios

        self.monitor = monitor
        self.every = max(1, int(every))
        self.step_fn = step_fn
        self.norms = GradNorms(model.named_parameters(), prefix, per_layer)
        self.passes = 0
        self.errors = 0
        self._queued = False
        self._removed = False
        params = [p for _, p in self.norms.params]
        self._seen: list[int] = []  # this pass's parameters, in order, while learning
        self._always: set[int] | None = None  # those in every pass so far, while learning
        self._handles = {id(p): p.register_post_accumulate_grad_hook(self._on_param_learn)
                         for p in params}
        self.activations = ActivationHooks(model, self, modules) if activations else None
        self.ratios = UpdateRatios(model) if (activations if update_ratio is None
                                              else update_ratio) else None

    def _on_param_learn(self, param) -> None:
        self._seen.append(id(param))
        self._on_grad(param)

    def _on_grad(self, _param) -> None:
        if not self._queued and not self._removed:
            self._queued = True
            Variable._execution_engine.queue_callback(self._on_backward_end)

    def _learn(self) -> None:
        """After LEARN passes, keep the hooks of the parameters that got a gradient in each
        pass and came first and last in the latest one."""
        seen, self._seen = self._seen, []
        self._always = set(seen) if self._always is None else self._always & set(seen)
        if self.passes < LEARN or not self._always:
            return
        keep = [k for k in seen if k in self._always]
        keep = {keep[0], keep[-1]}
        for k in list(self._handles):
            if k not in keep:
                self._handles.pop(k).remove()
        for p in (p for _, p in self.norms.params if id(p) in keep):
            self._handles[id(p)].remove()
            self._handles[id(p)] = p.register_post_accumulate_grad_hook(self._on_grad)
        self._always = None

    def _on_backward_end(self) -> None:
        self._queued = False
        self.passes += 1
        if self._always is not None or self._seen:
            self._learn()
        hooks = self.activations
        if hooks is not None:
            hooks.after_backward()
        if self.passes % self.every and (self.passes + 1) % self.every and (
                hooks is None or hooks.held is None) and (
                self.ratios is None or not self.ratios.armed):
            return  # nothing to take, log or snapshot on this pass
        # the activations of this pass's forward, when it logged: sent with the norms
        acts = hooks.take() if hooks is not None else None
        try:  # a monitoring problem must never stop the training
            ratios = {}
            if self.ratios is not None and self.ratios.armed:  # one optimizer step later
                ratios = self.ratios.compute()
            if self.passes % self.every:
                if acts is not None:
                    self.activations.send(*acts)
                if ratios:  # only with every=1 is a ratio taken on a pass that does not log
                    step = self.step_fn() if self.step_fn is not None else self.passes
                    self.monitor.log(step, ratios)
            else:
                step = self.step_fn() if self.step_fn is not None else self.passes
                values = self.norms.compute()
                values.update(ratios)
                if acts is not None and acts[0] == step:  # one message: fewer sender wake-ups
                    self.activations.send(*acts, extra=values)
                else:
                    if acts is not None:
                        self.activations.send(*acts)
                    if values:
                        self.monitor.log(step, values)
            # the weights are taken on the pass before a logging pass: the next one (the
            # logging pass) sees one optimizer step's update and sends it in its message
            if self.ratios is not None and (self.passes + 1) % self.every == 0:
                self.ratios.snapshot()
        except Exception:
            self.errors += 1

    def remove(self) -> None:
        self._removed = True
        for h in self._handles.values():
            h.remove()
        self._handles.clear()
        if self.activations is not None:
            self.activations.remove()


def watch(model: torch.nn.Module, monitor, every: int = 1, prefix: str = "grad_norm",
          per_layer: bool = True, step_fn: Callable[[], int] | None = None,
          activations: bool = False, modules=None,
          update_ratio: bool | None = None) -> GradWatch:
    """Log `model`'s gradient norms to `monitor` after every `every`-th backward pass; with
    `activations`, also activation statistics and histograms of the leaf modules (or
    `modules`: types or names) and update-to-weight ratios (`update_ratio`, default: on
    with `activations`)."""
    return GradWatch(model, monitor, every, prefix, per_layer, step_fn, activations, modules,
                     update_ratio)
