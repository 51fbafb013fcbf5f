"""PyTorch gradient-norm hooks, checked against norms computed by hand, over a real socket."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (test extra)")

from mlmon_tui.client import Monitor  # noqa: E402
from mlmon_tui.integrations.torch import LEARN, GradNorms, watch  # noqa: E402
from mlmon_tui.sources.socket import protocol as proto  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402
from test_socket_server import read_jsonl, wait_for  # noqa: E402


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                               torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def test_watch_logs_global_and_per_layer_norms(tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    expected = {}
    with SocketServer(tmp_path) as srv:
        with Monitor(run="mlp", address=srv.address) as mon:
            handle = watch(model, mon, every=2)
            for step in range(1, 7):
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                if step % 2 == 0:
                    layers = {}
                    for name, p in model.named_parameters():
                        layer = name.rpartition(".")[0]
                        layers[layer] = layers.get(layer, 0.0) + p.grad.pow(2).sum().item()
                    total = math.sqrt(sum(layers.values()))
                    expected[step] = {"grad_norm": total,
                                      **{f"grad_norm/{k}": math.sqrt(v) for k, v in layers.items()}}
                opt.step()
            handle.remove()
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()  # not watched any more
            assert mon.flush()
        assert wait_for(lambda: srv.stats["messages"] == 3)
    recs = read_jsonl(tmp_path / "mlp" / proto.DATA_FILE)
    assert [r["step"] for r in recs] == [2, 4, 6]
    for rec in recs:
        exp = expected[rec["step"]]
        assert set(rec["metrics"]) == set(exp) == {"grad_norm", "grad_norm/0", "grad_norm/2",
                                                  "grad_norm/4"}
        for k, v in exp.items():
            assert rec["metrics"][k] == pytest.approx(v, rel=1e-5)
    assert handle.errors == 0


def test_nan_gradient_is_logged_as_nan():
    model = mlp()

    class Sink:
        def __init__(self):
            self.logged = []

        def log(self, step, metrics):
            self.logged.append((step, metrics))

    sink = Sink()
    watch(model, sink, step_fn=lambda: 41)
    out = model(torch.randn(4, 8)).sum() * float("nan")
    out.backward()
    ((step, m),) = sink.logged
    assert step == 41 and math.isnan(m["grad_norm"]) and math.isnan(m["grad_norm/4"])


def test_params_without_grad_are_skipped():
    model = mlp()
    model[0].weight.requires_grad_(False)
    model[0].bias.requires_grad_(False)
    norms = GradNorms(model.named_parameters())
    model(torch.randn(4, 8)).sum().backward()
    vals = norms.compute()
    assert "grad_norm/0" not in vals and set(vals) == {"grad_norm", "grad_norm/2", "grad_norm/4"}
    manual = math.sqrt(sum(p.grad.pow(2).sum().item() for p in model.parameters()
                           if p.grad is not None))
    assert vals["grad_norm"] == pytest.approx(manual, rel=1e-5)


class _Rows:
    def __init__(self):
        self.rows = []

    def log(self, step, metrics):
        self.rows.append((step, metrics))


def _param_hook_count(model) -> int:
    return sum(len(p._post_accumulate_grad_hooks or {}) for p in model.parameters())


def _hooked(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p._post_accumulate_grad_hooks}


def test_after_learning_two_parameter_hooks_count_the_passes():
    """Every parameter is hooked for the first LEARN passes; then only the two that came
    first and last (nearest the loss, nearest the input), so that freezing one of them
    later still leaves passes counted."""
    model, sink = mlp(), _Rows()
    handle = watch(model, sink, every=2)
    assert _param_hook_count(model) == 6
    x = torch.randn(4, 8)
    for _ in range(LEARN):
        model(x).sum().backward()
    assert _param_hook_count(model) == 2
    assert {n.split(".")[0] for n in _hooked(model)} == {"0", "4"}
    assert [s for s, _ in sink.rows] == list(range(2, LEARN + 1, 2))
    with torch.no_grad():  # evaluation: nothing counted
        model(x)
    for p in model[4].parameters():  # the layer nearest the loss frozen: the other counts
        p.requires_grad_(False)
    model(x).sum().backward()  # pass LEARN + 1
    model(x).sum().backward()  # pass LEARN + 2 logs
    assert [s for s, _ in sink.rows][-1] == LEARN + 2
    model(x).sum().backward()  # pass LEARN + 3
    n = len(sink.rows)
    out = model(x).sum()  # pass LEARN + 4 would log: its output is from before remove(),
    handle.remove()  # its backward after
    out.backward()
    model(x).sum().backward()
    assert len(sink.rows) == n and _param_hook_count(model) == 0


def test_parameters_that_take_turns_keep_every_hook():
    """No parameter gets a gradient in every pass (two heads used in turn): all stay hooked
    and every pass is counted."""
    model, sink = torch.nn.ModuleDict({"a": torch.nn.Linear(4, 1), "b": torch.nn.Linear(4, 1)}), _Rows()
    watch(model, sink)
    for i in range(LEARN + 4):
        model["ab"[i % 2]](torch.randn(2, 4)).sum().backward()
    assert [s for s, _ in sink.rows] == list(range(1, LEARN + 5)) and _param_hook_count(model) == 4


def test_outputs_in_a_dict_and_models_whose_own_forward_never_runs():
    class Heads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = torch.nn.Linear(8, 8), torch.nn.Linear(8, 2)

        def forward(self, x):
            h = self.body(x)
            return {"logits": self.head(h), "features": h, "n": 3}

    model, sink = Heads(), _Rows()
    watch(model, sink)
    model(torch.randn(4, 8))["features"].sum().backward()  # only one output gets a gradient
    model(torch.randn(4, 8))["logits"].sum().backward()
    for _ in range(LEARN - 2):
        model(torch.randn(4, 8))["logits"].sum().backward()
    assert [s for s, _ in sink.rows] == list(range(1, LEARN + 1))
    assert set(sink.rows[0][1]) == {"grad_norm", "grad_norm/body"}  # no grad reached head
    assert {n.split(".")[0] for n in _hooked(model)} == {"body"}  # head missed pass 1
    model(torch.randn(4, 8))["features"].sum().backward()
    assert sink.rows[-1][0] == LEARN + 1

    model, sink = Heads(), _Rows()  # a wrapper whose submodules are called directly
    watch(model, sink)
    for _ in range(3):
        model.head(model.body(torch.randn(4, 8))).sum().backward()
    assert [s for s, _ in sink.rows] == [1, 2, 3] and _param_hook_count(model) == 4
    for _ in range(LEARN):
        model.head(model.body(torch.randn(4, 8))).sum().backward()
    assert sink.rows[-1][0] == LEARN + 3 and {n.split(".")[0] for n in _hooked(model)} == {
        "body", "head"} and _param_hook_count(model) == 2
