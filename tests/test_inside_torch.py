"""Real CPU PyTorch training, watched with `watch(activations=True)` through a real socket
server; the written log is read back by the watcher and judged by the health analysis."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (test extra)")

from mlmon_tui.analysis import HealthMonitor  # noqa: E402
from mlmon_tui.app.export import load  # noqa: E402
from mlmon_tui.client import Monitor  # noqa: E402
from mlmon_tui.integrations.torch import watch  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402
from mlmon_tui.store.percentiles import percentiles  # noqa: E402
from test_socket_server import read_jsonl, wait_for  # noqa: E402

INSIDE = {"dead_units", "saturation", "activation_explosion", "layer_not_learning"}
nn = torch.nn


def train(tmp_path, model, steps, *, scale=1.0, lr=0.05, during=None, every=2, run="net"):
    torch.manual_seed(1)
    x = torch.randn(64, model[0].in_features) * scale
    y = torch.randn(64, 1)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    with SocketServer(tmp_path) as srv:
        with Monitor(run=run, address=srv.address) as mon:
            handle = watch(model, mon, every=every, activations=True)
            for step in range(1, steps + 1):
                if during is not None:
                    during(step, model)
                opt.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                opt.step()
            handle.remove()
            assert mon.flush() and handle.errors == 0
        # per logging pass: activations (scalars, histograms), grad norms and the update
        # ratios of the optimizer step before it, in one message
        assert wait_for(lambda: srv.stats["messages"] >= steps // every)
    store = load([str(tmp_path)])
    found = [f for f in HealthMonitor().update(store) if f.kind in INSIDE]
    return store, found


class Sink:
    """A plain sink for `watch`: every metrics row and every histogram message, with its step."""

    def __init__(self):
        self.rows, self.hists = [], []

    def log(self, step, metrics):
        self.rows.append((step, metrics))

    def log_histograms(self, step, hists):
        self.hists.append((step, hists))


def relu_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 1))


def test_dead_relus_after_a_large_negative_bias_are_found_at_that_layer(tmp_path):
    def kill(step, model):
        if step == 31:
            with torch.no_grad():
                model[0].bias.fill_(-50.0)

    store, found = train(tmp_path, relu_mlp(), 60, during=kill)
    dead = [f for f in found if f.kind == "dead_units"]
    assert [f.extra["layer"] for f in dead] == ["1"], found
    assert dead[0].tag == "act/1/zero_frac" and 31 <= dead[0].step <= 32
    assert "Layer 1 went dead at step" in dead[0].message
    # the histograms came over the socket and carry the same story
    h = store.histograms[("net", "act/1")]
    assert percentiles(h[-1]) == [0.0] * 9 and percentiles(h[0])[-1] > 0


def test_tanh_network_fed_huge_inputs_saturates(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 1))
    _, found = train(tmp_path, model, 20, scale=1000.0)
    sat = [f for f in found if f.kind == "saturation"]
    assert "1" in [f.extra["layer"] for f in sat], found
    assert all(f.tag.endswith("/saturated") and f.value > 0.5 for f in sat)
    assert next(f for f in sat if f.extra["layer"] == "1").step == 2  # the first record


def test_a_frozen_layer_is_not_learning(tmp_path):
    model = relu_mlp()
    model[2].weight.requires_grad_(False)
    model[2].bias.requires_grad_(False)
    _, found = train(tmp_path, model, 20)
    stuck = [f for f in found if f.kind == "layer_not_learning"]
    assert [f.extra["layer"] for f in stuck] == ["2"], found
    assert "frozen by accident" in stuck[0].message and stuck[0].tag == "update_ratio/2"


def test_a_healthy_run_gets_none_of_them(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 16), nn.Sigmoid(), nn.Linear(16, 1))
    store, found = train(tmp_path, model, 60)
    assert found == []
    ratio = store.series("net", "update_ratio/0").value
    assert 1e-5 < ratio.min() and ratio.max() < 1.0
    # a logging pass's activations, histograms and gradient norms travel as one message
    recs = read_jsonl(next(tmp_path.rglob("mlmon-socket.jsonl")))
    logged = [r for r in recs if "act/0/mean" in r.get("metrics", {})]
    assert len(logged) == 30 and all("grad_norm/0" in r["metrics"] and "act/5" in
                                     r["histograms"] for r in logged)


def test_activations_of_a_pass_without_backward_are_sent_all_the_same():
    model, sink = relu_mlp(), Sink()
    handle = watch(model, sink, every=1, activations=True)
    x = torch.randn(4, 8)
    model(x)  # a training forward pass whose backward never comes
    assert sink.hists == []  # held for the backward pass
    model(x).sum().backward()  # the next pass sends it, then its own
    model(x)
    handle.remove()  # ... and removing the hooks the last one
    assert [s for s, _ in sink.hists] == [1, 2, 3] and handle.errors == 0


def test_activation_explosion(tmp_path):
    def blow(step, model):
        if step == 21:
            with torch.no_grad():
                model[2].weight.mul_(1000.0)

    _, found = train(tmp_path, relu_mlp(), 30, lr=0.0, during=blow)
    boom = [f for f in found if f.kind == "activation_explosion"]
    assert {f.extra["layer"] for f in boom} >= {"2"} and all(f.step >= 21 for f in boom)


def test_only_chosen_modules_and_no_work_between_logging_passes():
    model, sink = relu_mlp(), Sink()
    handle = watch(model, sink, every=3, activations=True, modules=[nn.ReLU], update_ratio=False)
    x = torch.randn(4, 8)
    for _ in range(7):
        model(x).sum().backward()
    with torch.no_grad():  # evaluation passes are not counted
        model(x)
    assert [s for s, _ in sink.hists] == [3, 6]
    assert set(sink.hists[0][1]) == {"act/1", "act/3"}
    edges, counts = sink.hists[0][1]["act/1"]
    assert len(edges) == len(counts) + 1 and sum(counts) == 4 * 32
    acts = [m for _, m in sink.rows if "act/1/mean" in m]
    assert len(acts) == 2 and not any(k.startswith("update_ratio") for _, m in sink.rows for k in m)
    handle.remove()
    model(x).sum().backward()
    assert len(sink.hists) == 2


def test_detectors_read_tensorboard_histograms_written_by_other_code(tmp_path):
    """Histograms named for what they hold (`activations/...`, `.../weight`), written with
    torch's SummaryWriter during a real training: a layer whose ReLUs die and a frozen layer."""
    from torch.utils.tensorboard import SummaryWriter

    model = relu_mlp()
    model[4].weight.requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    x, y = torch.randn(64, 8), torch.randn(64, 1)
    outs = {}
    model[3].register_forward_hook(lambda m, i, o: outs.__setitem__("relu2", o.detach()))
    w = SummaryWriter(str(tmp_path / "tb"))
    for step in range(40):
        if step == 20:
            with torch.no_grad():
                model[2].bias.fill_(-50.0)
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        w.add_histogram("activations/relu2", outs["relu2"], step)
        for name in ("0", "2", "4"):
            w.add_histogram(f"{name}/weight", getattr(model, name).weight, step)
    w.close()
    store = load([str(tmp_path)])
    found = [f for f in HealthMonitor().update(store) if f.kind in INSIDE]
    kinds = sorted((f.kind, f.tag) for f in found)
    assert kinds == [("dead_units", "activations/relu2/zero_frac"),
                     ("layer_not_learning", "4/weight")], found
    dead = next(f for f in found if f.kind == "dead_units")
    assert dead.step == 20


@pytest.mark.parametrize("shape", [(64, 32), (8, 16, 32, 32), (5,)])
def test_cpu_and_device_paths_agree_with_direct_numbers(shape):
    from mlmon_tui.integrations.torch_activations import BINS, SAMPLE, activation_stats

    torch.manual_seed(3)
    out = torch.tanh(torch.randn(*shape) * 3).relu()
    bounds = (-1.0, 1.0)
    a = list(activation_stats(out, bounds))
    b = activation_stats(out, bounds, device_path=True).tolist()
    assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    x = out.reshape(-1)
    if x.numel() <= SAMPLE:  # no sampling: the exact figures
        assert a[0] == pytest.approx(x.mean().item(), rel=1e-5)
        assert a[1] == pytest.approx(x.std(correction=0).item(), rel=1e-4)
        assert a[2] == pytest.approx((x == 0).float().mean().item())
        assert a[3] == pytest.approx(((x <= -0.96) | (x >= 0.96)).float().mean().item())
    else:  # a strided sample: estimates within a few per cent
        assert a[2] == pytest.approx((x == 0).float().mean().item(), abs=0.02)
    assert a[4] >= x.min().item() and a[5] <= x.max().item()
    # whole counts that add up to the full size, sampled or not, on both paths
    assert sum(a[6:]) == x.numel() and len(a) == 6 + BINS
    assert all(float(c).is_integer() for c in a[6:] + b[6:]) and sum(b[6:]) == x.numel()


def test_hooks_exist_only_during_logging_passes():
    """Between logging passes the leaves run hook-free (PyTorch's fast path): the one global
    hook exists only during a logging pass, and a logging pass that raises leaves it behind
    only until the model's next forward."""
    from torch.nn.modules import module as torch_module

    def hooks():
        return len(torch_module._global_forward_hooks) + sum(
            len(m._forward_hooks) for m in model.modules())

    model, sink = relu_mlp(), Sink()
    handle = watch(model, sink, every=2, activations=True)
    x = torch.randn(4, 8)
    model(x).sum().backward()  # pass 1: not a logging pass
    assert hooks() == 0
    armed = []
    model[4].register_forward_pre_hook(lambda m, i: armed.append(hooks()))
    model(x).sum().backward()  # pass 2: logs
    assert armed[-1] == 1 and [s for s, _ in sink.hists] == [2] and hooks() == 0
    assert not model._forward_pre_hooks  # pass 3 will not log: not even the model's pre-hook

    def boom(m, i):
        raise RuntimeError("boom")

    model(x).sum().backward()
    h = model[2].register_forward_pre_hook(boom)
    with pytest.raises(RuntimeError):
        model(x)  # pass 4 raises midway
    h.remove()
    assert armed[-1] == 0  # pass 3 again ran hook-free
    assert hooks() == 1  # the raised pass's global hook, until the next forward
    model(x).sum().backward()  # pass 5: the stale hook went at its start
    assert hooks() == 0 and armed[-1] == 0
    model(x).sum().backward()  # pass 6 logs
    assert [s for s, _ in sink.hists] == [2, 6] and handle.errors == 0
    handle.remove()
    assert not model._forward_hooks and not model._forward_pre_hooks.keys() - {h.id}
    assert not torch_module._global_forward_hooks


def test_the_pre_hook_waits_through_evaluation_passes_for_the_logging_pass():
    """The model's pre-hook is put there by the backward pass before a logging pass; forwards
    in eval mode or without grad in between are not counted, and it goes after the logging
    pass's backward; activations and norms of that pass travel together."""
    model, sink = relu_mlp(), Sink()
    handle = watch(model, sink, every=3, activations=True)
    x = torch.randn(4, 8)
    for _ in range(2):
        model(x).sum().backward()
    assert len(model._forward_pre_hooks) == 1  # the next training forward logs
    with torch.no_grad():
        model(x)
    model.eval()
    model(x)
    model.train()
    assert sink.hists == [] and len(model._forward_pre_hooks) == 1
    model(x).sum().backward()  # pass 3
    assert [s for s, _ in sink.hists] == [3] and not model._forward_pre_hooks
    row = next(m for s, m in sink.rows if s == 3)
    assert "act/0/mean" in row and "grad_norm/0" in row
    for _ in range(3):
        model(x).sum().backward()
    assert [s for s, _ in sink.hists] == [3, 6] and handle.errors == 0
    handle.remove()
    assert not model._forward_pre_hooks


def test_update_ratios_equal_direct_numbers_and_inf_outputs_send_no_histogram():
    """||W_now - W_then|| / ||W_now|| per layer, one optimizer step apart, checked by hand
    (the CPU path), and the same through the device path; an output holding inf gets its
    scalars logged but no histogram, and no error."""
    class Inf(nn.Module):
        def forward(self, x):
            return torch.cat([x, torch.full_like(x[:, :1], float("inf"))], 1)

    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), Inf())
    sink = Sink()
    rows, hists = sink.rows, sink.hists
    handle = watch(model, sink, every=2, activations=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(32, 8)
    weights = {}
    for step in range(1, 4):
        opt.zero_grad()
        model(x)[:, :-1].square().mean().backward()  # snapshot after pass 1, ratio after 2
        weights[step] = {n: p.detach().clone() for n, p in model.named_parameters()}
        opt.step()
    step, got = next((s, m) for s, m in rows if "update_ratio/0" in m)
    assert step == 2 and "grad_norm" in got  # in the logging pass's one message
    for layer in ("0", "2"):
        w = [v for n, v in weights[2].items() if n.startswith(layer + ".")]
        d = [weights[1][n] - v for n, v in weights[2].items() if n.startswith(layer + ".")]
        wn = sum(v.double().square().sum() for v in w).sqrt().item()
        dn = sum(v.double().square().sum() for v in d).sqrt().item()
        assert got[f"weight_norm/{layer}"] == pytest.approx(wn, rel=1e-5)
        assert got[f"update_ratio/{layer}"] == pytest.approx(dn / wn, rel=1e-4)
    assert set(hists[0][1]) == {"act/0", "act/1", "act/2"} and handle.errors == 0
    assert next(m for s, m in rows if "act/3/mean" in m)["act/3/mean"] == float("inf")
    handle.remove()


def test_cpu_norms_equal_torch_norms(monkeypatch):
    """Grad norms and update ratios by numpy dot products (CPU float tensors) and by torch's
    norms (every other device and dtype) agree."""
    from mlmon_tui.integrations import torch as tw
    from mlmon_tui.integrations import torch_ratios as ta

    model = relu_mlp()
    nn.functional.mse_loss(model(torch.randn(64, 8)), torch.randn(64, 1)).backward()
    norms, ratios = tw.GradNorms(model.named_parameters()), ta.UpdateRatios(model)

    def measure():
        ratios.snapshot()
        with torch.no_grad():
            for p in model.parameters():
                p.sub_(p.grad, alpha=0.01)
        out = {**norms.compute(), **ratios.compute()}
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=0.01)
        return out

    fast = measure()
    assert tw.cpu_squared_norms([p for p in model.parameters()]) is not None
    assert tw.cpu_squared_norms([torch.ones(3, dtype=torch.bfloat16)]) is None
    assert tw.cpu_squared_norms([torch.full((2,), 3e30)]) is None  # float32 overflow
    monkeypatch.setattr(tw, "cpu_squared_norms", lambda ts: None)
    monkeypatch.setattr(ta.UpdateRatios, "numpy", False)
    slow = measure()
    assert fast.keys() == slow.keys() and len(fast) == 1 + 3 + 2 * 3
    for k, v in fast.items():
        assert v == pytest.approx(slow[k], rel=1e-5), k


def test_layers_reduced_together_equal_each_alone_and_the_device_path():
    """The CPU hooks reduce all layers of a pass in one batch: sizes that are sampled and
    not, a bounded (tanh) layer, a constant layer, one holding NaN, a float16 one."""
    from mlmon_tui.integrations.activation_numpy import batch_stats, cpu_sample
    from mlmon_tui.integrations.torch_activations import activation_stats

    torch.manual_seed(5)
    outs = [torch.randn(64, 512).relu(), torch.tanh(torch.randn(32, 16, 8, 8) * 4),
            torch.full((7, 3), 2.5), torch.tensor([1.0, float("nan"), 3.0]),
            torch.randn(40).half(), torch.randn(1)]
    bounds = [None, (-1.0, 1.0), None, None, None, (0.0, 1.0)]
    samples = [cpu_sample(o) for o in outs]
    together = batch_stats([s for s, _ in samples], [n for _, n in samples], bounds)
    for out, b, got in zip(outs, bounds, together):
        alone = activation_stats(out, b)
        device = activation_stats(out, b, device_path=True).tolist()
        assert got == pytest.approx(alone, rel=1e-6, nan_ok=True)
        assert sum(got[6:]) == out.numel() and all(isinstance(c, int) for c in got[6:])
        if math.isnan(got[0]):
            continue
        assert got[:6] == pytest.approx(device[:6], rel=1e-3, abs=1e-5)
        assert got[6:] == device[6:] or got[4] == got[5]  # the device path bins one value
    assert together[2][:6] == [2.5, 0.0, 0.0, -1.0, 2.5, 2.5] and together[2][6] == 21
    assert together[1][3] > 0.5  # tanh of large inputs: saturated
    assert cpu_sample(torch.ones(3, dtype=torch.bfloat16)) is None  # numpy has no bfloat16


@pytest.mark.parametrize("optim", ["sgd", "adam"])
def test_update_ratios_of_large_layers_are_close_estimates(optim):
    """A parameter larger than RATIO_SAMPLE is followed through a sample of blocks; its ratio
    and weight norm stay within a few percent of the exact ones, under SGD and Adam."""
    from mlmon_tui.integrations.torch_ratios import RATIO_SAMPLE, UpdateRatios

    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(512, 384), nn.ReLU(), nn.Linear(384, 10))
    assert model[0].weight.numel() > 8 * RATIO_SAMPLE
    opt = (torch.optim.SGD(model.parameters(), lr=0.5) if optim == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    x, y = torch.randn(256, 512), torch.randint(0, 10, (256,))
    ratios = UpdateRatios(model)
    for _ in range(3):
        then = {n: p.detach().clone() for n, p in model.named_parameters()}
        ratios.snapshot()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        got = ratios.compute()
        for layer in ("0", "2"):
            ps = [(n, p.detach()) for n, p in model.named_parameters() if n.startswith(layer)]
            wn = sum(p.double().square().sum() for _, p in ps).sqrt().item()
            dn = sum((p - then[n]).double().square().sum() for n, p in ps).sqrt().item()
            assert got[f"weight_norm/{layer}"] == pytest.approx(wn, rel=0.03)
            assert got[f"update_ratio/{layer}"] == pytest.approx(dn / wn, rel=0.05)


def test_update_ratios_skip_a_step_whose_parameters_were_replaced():
    """A parameter given new storage between the snapshot and the logging pass (`p.data =
    ...`) gives no ratio for that step, not one against stale memory; the next one works.
    Mixed dtypes (a bfloat16 layer) share the float32 buffers."""
    from mlmon_tui.integrations.torch_ratios import UpdateRatios

    model = nn.Sequential(nn.Linear(300, 200), nn.Linear(200, 3))
    model[0].to(torch.bfloat16)
    ratios = UpdateRatios(model)
    ratios.snapshot()
    model[0].weight.data = model[0].weight.data * 2
    assert ratios.compute() == {}
    ratios.snapshot()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.01)
    got = ratios.compute()
    assert got["update_ratio/1"] == pytest.approx(0.01 / 1.01, rel=1e-4)
    assert got["update_ratio/0"] == pytest.approx(0.01 / 1.01, rel=0.05)  # bfloat16 rounding
