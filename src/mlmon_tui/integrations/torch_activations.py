"""PyTorch: per-layer activation statistics and update-to-weight ratios, for `watch`.

Activations: a forward hook on each watched module (by default every leaf module), put there
by a pre-hook on the model for every `every`-th training forward pass (model in train mode,
grad enabled) and taken away when that pass ends, so the other passes run hook-free. A hook
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

Update ratios: after the backward pass before every `every`-th one the weights are copied
(on the device); after the `every`-th (one optimizer step later) `update_ratio/<layer>` =
||W_now - W_then|| / ||W_now|| and `weight_norm/<layer>` go out in that pass's message with
its other figures (one sync, one message). Frozen parameters count too, so a layer frozen
by mistake shows a ratio of 0.
"""

from __future__ import annotations

import math

import torch

from mlmon_tui.integrations.activation_numpy import (BINS, NEAR, SAMPLE, batch_stats,
                                                     cpu_sample, stride)

from mlmon_tui.client import Monitor
from mlmon_tui.integrations.torch import cpu_squared_norms

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


def _layer_of(name: str) -> str:
    return name.rpartition(".")[0] or name


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
    """Forward hooks on the chosen modules; see the module docstring. The leaf hooks are
    registered by the model's pre-hook on logging passes only and removed when the pass ends,
    so on the other passes the leaves run without any hook (PyTorch's fast path)."""

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
        self._leaves = [(m, self._hook(name, saturation_bounds(m))) for name, m in chosen]
        self._handles = [model.register_forward_pre_hook(self._on_start),
                         model.register_forward_hook(self._on_end)]

    def _on_start(self, model, _inputs) -> None:
        if self._armed:  # the last logging pass raised before its end
            self._disarm()
        if self.held is not None:  # no backward pass took it: send it alone
            self.send(*self.take())
        self._pending = []
        self._active = False
        if model.training and torch.is_grad_enabled():
            self.forwards += 1
            if self.forwards % self.watch.every == 0:
                self._active = True
                self._armed = [m.register_forward_hook(h) for m, h in self._leaves]

    def _disarm(self) -> None:
        for h in self._armed:
            h.remove()
        self._armed = []

    def _hook(self, name: str, bounds):
        def hook(_module, _inputs, out) -> None:
            if not self._active or not isinstance(out, torch.Tensor) or not out.numel():
                return
            if not (out.is_floating_point()):
                return
            try:  # a CPU output: a small copy of its sample, reduced with the others at the
                sample = cpu_sample(out)  # end of the pass; else reduced now, on its device
                self._pending.append((name, _stats_torch(out, bounds) if sample is None
                                      else (*sample, bounds)))
            except Exception:
                self.watch.errors += 1
        return hook

    def _on_end(self, _model, _inputs, _out) -> None:
        if self._armed:
            self._disarm()
        if not self._active or not self._pending:
            return
        pending, self._pending = self._pending, []
        self._active = False
        try:
            cpu = [v for _, v in pending if isinstance(v, tuple)]
            if cpu:
                done = iter(batch_stats(*zip(*cpu)))
                pending = [(n, next(done) if isinstance(v, tuple) else v) for n, v in pending]
            tensors = [v for _, v in pending if isinstance(v, torch.Tensor)]
            k = 6 + BINS
            if tensors:  # the one sync (CPU outputs came as lists already)
                dev = tensors[0].device
                done = iter(torch.cat([v.to(dev) for v in tensors]).tolist())
                pending = [(n, v if not isinstance(v, torch.Tensor)
                            else [next(done) for _ in range(6)]
                            + [int(next(done)) for _ in range(BINS)]) for n, v in pending]
            step = self.watch.step_fn() if self.watch.step_fn is not None else self.forwards
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
                else:
                    w = (mx - mn) / BINS
                    hists[tag] = ([mn + w * i for i in range(BINS)] + [mx], v[6:k])
            # held for the backward pass, whose gradient norms go in the same message
            self.held = (step, metrics, hists)
        except Exception:
            self.watch.errors += 1

    def _tags(self, name: str) -> tuple[str, str, str, str, str]:
        tags = self._tag_cache.get(name)
        if tags is None:
            tag = f"{self.prefix}/{name}"
            tags = self._tag_cache[name] = (tag, f"{tag}/mean", f"{tag}/std",
                                            f"{tag}/zero_frac", f"{tag}/saturated")
        return tags

    def take(self) -> tuple[int, dict, dict] | None:
        """The last logging pass's (step, metrics, histograms) not sent yet, if any."""
        held, self.held = self.held, None
        return held

    def send(self, step: int, metrics: dict, hists: dict) -> None:
        mon = self.watch.monitor
        if isinstance(mon, Monitor):  # one message for the scalars and the histograms
            mon.log_histograms(step, hists, metrics)
            return
        mon.log(step, metrics)
        log_h = getattr(mon, "log_histograms", None)
        if log_h is not None:
            log_h(step, hists)

    def remove(self) -> None:
        self._disarm()
        if self.held is not None:
            try:
                self.send(*self.take())
            except Exception:
                self.watch.errors += 1
        for h in self._handles:
            h.remove()
        self._handles.clear()


def _choose(model: torch.nn.Module, modules) -> list[tuple[str, torch.nn.Module]]:
    """Leaf modules by default; else those whose type is in `modules` (types) or whose
    name is in it (strings)."""
    named = [(n, m) for n, m in model.named_modules() if n]
    if modules is None:
        return [(n, m) for n, m in named if not any(True for _ in m.children())]
    types = tuple(t for t in modules if isinstance(t, type))
    names = {t for t in modules if isinstance(t, str)}
    return [(n, m) for n, m in named if (types and isinstance(m, types)) or n in names]


class UpdateRatios:
    """||W_now - W_then|| / ||W_now|| per layer, one optimizer step apart."""

    def __init__(self, model: torch.nn.Module):
        self.params = [(n, p) for n, p in model.named_parameters()
                       if p.is_floating_point() and p.numel()]
        self.layer_names: list[str] = []
        index: dict[str, int] = {}
        self.layer_of = [index.setdefault(_layer_of(n), len(index)) for n, _ in self.params]
        self.layer_names = list(index)
        self._then: list[torch.Tensor] | None = None
        self._buffers: list[torch.Tensor] | None = None  # reused between snapshots
        self._index = None

    @torch.no_grad()
    def snapshot(self) -> None:
        now = [p.detach() for _, p in self.params]
        if self._buffers is None or any(b.shape != p.shape or b.device != p.device
                                        or b.dtype != p.dtype
                                        for b, p in zip(self._buffers, now)):
            self._buffers = [p.clone() for p in now]
        else:
            torch._foreach_copy_(self._buffers, now)
        self._then = self._buffers

    @property
    def armed(self) -> bool:
        return self._then is not None

    @torch.no_grad()
    def compute(self) -> dict[str, float]:
        then, self._then = self._then, None
        if then is None or not self.params:
            return {}
        now = [p.detach() for _, p in self.params]
        w2 = cpu_squared_norms(now)
        if w2 is not None:
            torch._foreach_sub_(then, now)  # in the snapshot's buffers: no allocation
            d2 = cpu_squared_norms(then)
            if d2 is not None:
                return self._ratios(d2, w2)
            dn = torch._foreach_norm(then)
            wn = torch._foreach_norm(now)
        else:
            wn = torch._foreach_norm(now)
            torch._foreach_sub_(then, now)
            dn = torch._foreach_norm(then)
        dev = dn[0].device
        d2 = torch.stack([v.to(dev, torch.float32) for v in dn]).square()
        w2 = torch.stack([v.to(dev, torch.float32) for v in wn]).square()
        if self._index is None or self._index.device != dev:
            self._index = torch.tensor(self.layer_of, device=dev)
        idx = self._index
        n = len(self.layer_names)
        dl = torch.zeros(n, device=dev).index_add_(0, idx, d2).sqrt()
        wl = torch.zeros(n, device=dev).index_add_(0, idx, w2).sqrt()
        vals = torch.cat([dl, wl]).tolist()  # the one sync
        return self._out(vals[:n], vals[n:])

    def _ratios(self, d2: list[float], w2: list[float]) -> dict[str, float]:
        """The same from per-parameter sums of squares (the CPU path)."""
        n = len(self.layer_names)
        dl, wl = [0.0] * n, [0.0] * n
        for li, d, w in zip(self.layer_of, d2, w2):
            dl[li] += d
            wl[li] += w
        return self._out([math.sqrt(v) for v in dl], [math.sqrt(v) for v in wl])

    def _out(self, dl: list[float], wl: list[float]) -> dict[str, float]:
        out = {}
        for layer, d, w in zip(self.layer_names, dl, wl):
            out[f"weight_norm/{layer}"] = w
            out[f"update_ratio/{layer}"] = d / w if w > 0 else 0.0
        return out
