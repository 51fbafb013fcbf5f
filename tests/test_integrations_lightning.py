"""Lightning callback: a real Trainer on a tiny model, a real socket server, the JSONL read back."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (test extra)")
L = pytest.importorskip("lightning", reason="Lightning is not installed (test extra)")

from mlmon_tui.integrations.lightning import MlmonCallback  # noqa: E402
from mlmon_tui.sources.socket import protocol as proto  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402
from test_socket_server import read_jsonl, wait_for  # noqa: E402


class Tiny(L.LightningModule):
    def __init__(self, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                       torch.nn.Linear(8, 1))

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader(n=32):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    ds = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    return torch.utils.data.DataLoader(ds, batch_size=8)


def test_lightning_callback_writes_metrics_and_grad_norms(tmp_path):
    with SocketServer(tmp_path / "logs") as srv:
        cb = MlmonCallback(run="tiny", address=srv.address, every_n_steps=2)
        trainer = L.Trainer(max_epochs=2, callbacks=[cb], logger=False,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, accelerator="cpu",
                            default_root_dir=str(tmp_path), num_sanity_val_steps=0)
        trainer.fit(Tiny(), loader(), loader(16))
        assert cb.monitor is None  # the callback closed the monitor it opened
        assert wait_for(lambda: srv.stats["messages"] >= 6)
    recs = read_jsonl(tmp_path / "logs" / "tiny" / proto.DATA_FILE)
    train = [r for r in recs if "train_loss" in r["metrics"]]
    # 4 batches per epoch, 2 epochs: optimizer steps 1..8, every 2nd sent
    assert [r["step"] for r in train] == [2, 4, 6, 8]
    for r in train:
        assert {"grad_norm", "grad_norm/net.0", "grad_norm/net.2"} <= set(r["metrics"])
        assert r["metrics"]["grad_norm"] > 0
    val = [r for r in recs if "val_loss" in r["metrics"]]
    assert [r["step"] for r in val] == [4, 8]  # end of each epoch's validation
    assert all(set(r["metrics"]) == {"val_loss"} for r in val)
    meta = json.loads((tmp_path / "logs" / "tiny" / proto.META_FILE).read_text())
    assert meta["hparams"]["lr"] == 0.05
