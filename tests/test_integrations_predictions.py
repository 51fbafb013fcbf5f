"""Validation predictions from the Lightning and Keras callbacks: real training on a tiny
classification task, a real socket server, the JSONL read back and checked against
scikit-learn on the same model's predictions."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
torch = pytest.importorskip("torch", reason="PyTorch is not installed (test extra)")
skm = pytest.importorskip("sklearn.metrics", reason="scikit-learn is not installed (test extra)")
import numpy as np  # noqa: E402

from mlmon_tui.sources.socket import protocol as proto  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402
from test_socket_server import read_jsonl, wait_for  # noqa: E402


def data(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def test_lightning_collects_validation_predictions(tmp_path):
    L = pytest.importorskip("lightning", reason="Lightning is not installed (test extra)")
    from mlmon_tui.integrations.lightning import MlmonCallback

    class Clf(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(3, 2)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            logits = self.net(x)
            self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
            return {"logits": logits, "target": y}

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.5)

    xt, yt = data(64, 0)
    xv, yv = data(48, 1)
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt), batch_size=16)
    dv = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xv, yv), batch_size=16)
    model = Clf()
    with SocketServer(tmp_path / "logs") as srv:
        cb = MlmonCallback(run="clf", address=srv.address, predictions=True,
                           labels=["neg", "pos"])
        trainer = L.Trainer(max_epochs=2, callbacks=[cb], logger=False,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, accelerator="cpu",
                            default_root_dir=str(tmp_path), num_sanity_val_steps=2)
        trainer.fit(model, dl, dv)
        assert wait_for(lambda: srv.stats["classifications"] >= 2)
    recs = read_jsonl(tmp_path / "logs" / "clf" / proto.DATA_FILE)
    cls = [r for r in recs if "classification" in r]
    assert [r["step"] for r in cls] == [4, 8]  # each epoch's validation, not the sanity check
    assert cls[-1]["classification"]["labels"] == ["neg", "pos"]
    last = [r["metrics"] for r in recs if "val/roc_auc" in r.get("metrics", {})][-1]
    with torch.no_grad():  # the final model: the last validation's predictions
        prob = torch.softmax(model.net(xv), 1)[:, 1].numpy()
    y = yv.numpy()
    assert last["val/roc_auc"] == pytest.approx(skm.roc_auc_score(y, prob), abs=1e-6)
    assert last["val/f1"] == pytest.approx(skm.f1_score(y, prob >= 0.5), abs=1e-6)
    assert sum(map(sum, cls[-1]["classification"]["confusion"])) == 48


def test_keras_predicts_on_validation_data(tmp_path):
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed (test extra)")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras was already loaded with the {keras.backend.backend()} backend")
    from mlmon_tui.integrations.keras import MlmonKerasCallback

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 4)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.8).astype(int)  # 3 classes
    xv, yv = x[60:], y[60:]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    with SocketServer(tmp_path / "logs") as srv:
        cb = MlmonKerasCallback(run="k", address=srv.address,
                                validation_data=(xv, keras.utils.to_categorical(yv, 3)))
        model.fit(x[:60], y[:60], batch_size=20, epochs=2, verbose=0, callbacks=[cb])
        assert wait_for(lambda: srv.stats["classifications"] >= 2)
    recs = read_jsonl(tmp_path / "logs" / "k" / proto.DATA_FILE)
    scal = [r for r in recs if "val/accuracy" in r.get("metrics", {})]
    assert [r["step"] for r in scal] == [3, 6]
    p = np.asarray(model.predict(xv, verbose=0), dtype=np.float64)
    m = scal[-1]["metrics"]
    assert m["val/accuracy"] == pytest.approx(skm.accuracy_score(yv, p.argmax(1)), abs=1e-6)
    assert m["val/f1_macro"] == pytest.approx(
        skm.f1_score(yv, p.argmax(1), average="macro", zero_division=0), abs=1e-6)
