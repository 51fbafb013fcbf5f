"""PyTorch: per-layer update-to-weight ratios, for `watch(activations=True)`.

After the backward pass before every `every`-th one a sample of the weights is copied (on
the device); after the `every`-th (one optimizer step later) `update_ratio/<layer>` =
||W_now - W_then|| / ||W_now|| and `weight_norm/<layer>` go out in that pass's message with
its other figures (one sync, one message). Frozen parameters count too, so a layer frozen
by mistake shows a ratio of 0.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mlmon_tui.integrations.activation_numpy import stride
from mlmon_tui.integrations.torch import _layer

RATIO_SAMPLE = 1 << 12  # at most this many values of a parameter are followed for its update
# (1 << 14 halved the worst error seen, 2.7 % -> 1.2 %, for 0.17 ms more a logging pass)
BLOCK = 16  # ... in blocks of this many neighbours (64 bytes of float32: a cache line)


class _Samples:
    """The samples of the parameters on one device, copied into one flat float32 buffer
    (`then` at the snapshot, `now` at the next logging pass) through views shaped like
    each parameter's sample: one copy call and a few whole-buffer operations, whatever the
    number of parameters."""

    def __init__(self, idx: list[int], views: list[torch.Tensor]):
        self.idx = idx  # the parameters' positions in UpdateRatios.params
        sizes = [v.numel() for v in views]
        dev = views[0].device
        self.then = torch.empty(sum(sizes), device=dev, dtype=torch.float32)
        self.now = torch.empty_like(self.then)
        self.then_views = [t.view(v.shape) for t, v in zip(self.then.split(sizes), views)]
        self.now_views = [t.view(v.shape) for t, v in zip(self.now.split(sizes), views)]
        self.cpu = dev.type == "cpu"
        self.sizes = sizes
        self.starts = np.cumsum([0, *sizes[:-1]], dtype=np.intp)
        self.segment: torch.Tensor | None = None  # each value's parameter (torch's sums)

    def sums(self, numpy: bool) -> tuple[list[float], list[float]]:
        """Per parameter: the sum of squares of the update since the snapshot, and of the
        weights now (of the samples). Uses up `then`."""
        if self.cpu and numpy:
            a, b = self.then.numpy(), self.now.numpy()
            np.subtract(a, b, out=a)
            # float32 sums over at most RATIO_SAMPLE values each: errors near 1e-5, far
            # inside the sample's own (and twice as fast as casting to float64)
            d2 = np.add.reduceat(np.square(a, out=a), self.starts)
            w2 = np.add.reduceat(np.square(b, out=b), self.starts)
            return d2.tolist(), w2.tolist()
        if self.segment is None:
            self.segment = torch.repeat_interleave(
                torch.arange(len(self.sizes), device=self.then.device),
                torch.tensor(self.sizes, device=self.then.device))
        d = self.then.sub_(self.now).square_()
        both = torch.zeros(2, len(self.idx), device=d.device, dtype=torch.float64)
        both.index_add_(1, self.segment, torch.stack([d, self.now.square_()]).double())
        d2, w2 = both.tolist()  # the one sync
        return d2, w2


class UpdateRatios:
    """||W_now - W_then|| / ||W_now|| per layer, one optimizer step apart, and ||W_now||. A
    parameter of more than RATIO_SAMPLE values is followed through a sample of that size:
    evenly spaced blocks of BLOCK neighbours (one cache line each, so that the copy and the
    difference touch that much memory and no more); its sums of squares are scaled up to the
    whole (estimates within about 3 %: the ratio's meaning is its order of magnitude)."""

    numpy = True  # on the CPU, numpy's segment sums (else torch's, as on other devices)

    def __init__(self, model: torch.nn.Module):
        self.params = [(n, p) for n, p in model.named_parameters()
                       if p.is_floating_point() and p.numel()]
        index: dict[str, int] = {}
        self.layer_of = [index.setdefault(_layer(n), len(index)) for n, _ in self.params]
        self.layer_names = list(index)
        self._tags = [(f"weight_norm/{n}", f"update_ratio/{n}") for n in self.layer_names]
        self._key: list | None = None  # the parameters' storage when the layout was made
        self._views: list[torch.Tensor] = []
        self._scale: list[float] = []
        self._groups: list[_Samples] = []
        self._cacheable = False
        self.armed = False

    def _samples(self) -> list[torch.Tensor]:
        """Each parameter's sample (a view; the whole parameter when it is small); the flat
        buffers are made again when a parameter's storage changes."""
        key = [(p.data_ptr(), p.shape, p.device) for _, p in self.params]
        if key == self._key and self._cacheable:
            return self._views
        views, scale = [], []
        for _, p in self.params:
            x = p.detach().reshape(-1)  # a view of a contiguous parameter
            n = x.numel()
            if n > RATIO_SAMPLE:
                blocks = n // BLOCK
                x = x[:blocks * BLOCK].view(blocks, BLOCK)[::stride(blocks, RATIO_SAMPLE // BLOCK)]
            views.append(x)
            scale.append(n / x.numel())
        if key != self._key:
            by_dev: dict = {}
            for i, v in enumerate(views):
                by_dev.setdefault(v.device, []).append(i)
            self._groups = [_Samples(idx, [views[i] for i in idx]) for idx in by_dev.values()]
            self._key, self.armed = key, False
        self._cacheable = all(p.is_contiguous() for _, p in self.params)  # else copies
        self._views, self._scale = views, scale
        return views

    @torch.no_grad()
    def snapshot(self) -> None:
        views = self._samples()
        for g in self._groups:
            torch._foreach_copy_(g.then_views, [views[i] for i in g.idx])
        self.armed = True

    @torch.no_grad()
    def compute(self) -> dict[str, float]:
        if not self.armed or not self.params:
            return {}
        self.armed = False
        key = self._key
        views = self._samples()
        if self._key is not key:  # a parameter's storage changed since the snapshot
            return {}
        d2, w2 = [0.0] * len(views), [0.0] * len(views)
        for g in self._groups:
            torch._foreach_copy_(g.now_views, [views[i] for i in g.idx])
            gd, gw = g.sums(self.numpy)
            for i, d, w in zip(g.idx, gd, gw):
                d2[i], w2[i] = d * self._scale[i], w * self._scale[i]
        return self._ratios(d2, w2)

    def _ratios(self, d2: list[float], w2: list[float]) -> dict[str, float]:
        """Per layer, from per-parameter sums of squares."""
        n = len(self.layer_names)
        dl, wl = [0.0] * n, [0.0] * n
        for li, d, w in zip(self.layer_of, d2, w2):
            dl[li] += d
            wl[li] += w
        return self._out([math.sqrt(v) for v in dl], [math.sqrt(v) for v in wl])

    def _out(self, dl: list[float], wl: list[float]) -> dict[str, float]:
        out = {}
        for (t_w, t_r), d, w in zip(self._tags, dl, wl):
            out[t_w] = w
            out[t_r] = d / w if w > 0 else 0.0
        return out
