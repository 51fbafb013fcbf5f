"""Keras 3 callback (PyTorch backend): a real fit on a tiny model, a real socket server."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
np = pytest.importorskip("numpy")
pytest.importorskip("torch", reason="PyTorch (the Keras backend used here) is not installed")
keras = pytest.importorskip("keras", reason="Keras 3 is not installed (test extra)")

from mlmon_tui.integrations.keras import MlmonKerasCallback  # noqa: E402
from mlmon_tui.sources.socket import protocol as proto  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402
from test_socket_server import read_jsonl, wait_for  # noqa: E402


def test_keras_callback_sends_batches_and_epochs(tmp_path):
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras was already loaded with the {keras.backend.backend()} backend")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
    with SocketServer(tmp_path / "logs") as srv:
        cb = MlmonKerasCallback(run="keras-tiny", address=srv.address, every_n_batches=2)
        hist = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, verbose=0,
                         callbacks=[cb])
        assert wait_for(lambda: srv.stats["messages"] >= 4)
    recs = read_jsonl(tmp_path / "logs" / "keras-tiny" / proto.DATA_FILE)
    epochs = [r for r in recs if "epoch" in r["metrics"]]
    batches = [r for r in recs if "epoch" not in r["metrics"]]
    # 32 training samples / 8 = 4 batches per epoch; every 2nd batch sent
    assert [r["step"] for r in batches] == [2, 4, 6, 8]
    assert all({"loss", "mae"} <= set(r["metrics"]) for r in batches)
    assert [(r["step"], r["metrics"]["epoch"]) for r in epochs] == [(4, 0.0), (8, 1.0)]
    assert [r["metrics"]["val_loss"] for r in epochs] == pytest.approx(hist.history["val_loss"])
    assert [r["metrics"]["loss"] for r in epochs] == pytest.approx(hist.history["loss"])
