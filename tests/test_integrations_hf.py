"""Hugging Face Trainer callback: a real Trainer on a tiny model, a real socket server."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (test extra)")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")
pytest.importorskip("accelerate", reason="accelerate (needed by Trainer) is not installed")

from mlmon_tui.integrations.hf import MlmonTrainerCallback  # noqa: E402
from mlmon_tui.sources.socket import protocol as proto  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402
from test_socket_server import read_jsonl, wait_for  # noqa: E402


class TinyRegressor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def forward(self, x, labels=None):
        out = self.net(x)
        loss = torch.nn.functional.mse_loss(out, labels) if labels is not None else None
        return {"loss": loss, "logits": out}


class Data(torch.utils.data.Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x.sum(1, keepdim=True)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i]}


def test_hf_callback_sends_train_and_eval_logs(tmp_path):
    torch.manual_seed(0)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=6, logging_steps=2, eval_strategy="steps",
        eval_steps=3, per_device_train_batch_size=4, per_device_eval_batch_size=4,
        learning_rate=0.01, report_to=[], save_strategy="no", use_cpu=True,
        disable_tqdm=True, seed=0)
    with SocketServer(tmp_path / "logs") as srv:
        cb = MlmonTrainerCallback(run="hf-tiny", address=srv.address)
        trainer = transformers.Trainer(model=TinyRegressor(), args=args, train_dataset=Data(32),
                                       eval_dataset=Data(8), callbacks=[cb])
        trainer.train()
        assert wait_for(lambda: srv.stats["messages"] >= 5)
    recs = read_jsonl(tmp_path / "logs" / "hf-tiny" / proto.DATA_FILE)
    train = [r for r in recs if "loss" in r["metrics"]]
    evals = [r for r in recs if "eval_loss" in r["metrics"]]
    assert [r["step"] for r in train] == [2, 4, 6]
    assert all("learning_rate" in r["metrics"] and "grad_norm" in r["metrics"] for r in train)
    assert [r["step"] for r in evals] == [3, 6]
    history = [h for h in trainer.state.log_history if "loss" in h]
    assert [r["metrics"]["loss"] for r in train] == pytest.approx([h["loss"] for h in history])
    meta = json.loads((tmp_path / "logs" / "hf-tiny" / proto.META_FILE).read_text())
    assert meta["hparams"]["learning_rate"] == 0.01
    assert meta["meta"]["max_steps"] == 6
