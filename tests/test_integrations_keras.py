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


def test_keras_callback_activations_and_a_frozen_layer(tmp_path):
    """Per-layer activation statistics and histograms at each epoch's end from a user batch;
    a layer frozen by mistake (trainable=False) is found not learning."""
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras was already loaded with the {keras.backend.backend()} backend")
    from mlmon_tui.analysis import HealthMonitor
    from mlmon_tui.app.export import load

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(16, activation="relu", name="d1"),
                              keras.layers.Dense(16, activation="tanh", name="d2"),
                              keras.layers.Dense(1, name="out")])
    model.get_layer("d2").trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    with SocketServer(tmp_path / "logs") as srv:
        cb = MlmonKerasCallback(run="k", address=srv.address, every_n_batches=100,
                                activation_batch=x[:32])
        model.fit(x, y, epochs=6, batch_size=16, verbose=0, callbacks=[cb])
        assert wait_for(lambda: srv.stats["messages"] >= 12)
    assert cb.errors == 0
    recs = read_jsonl(tmp_path / "logs" / "k" / proto.DATA_FILE)
    inside = [r for r in recs if "histograms" in r]
    assert len(inside) == 6 and set(inside[0]["histograms"]) == {"act/d1", "act/d2", "act/out"}
    m = next(r["metrics"] for r in recs if "act/d1/mean" in r["metrics"])
    assert 0 < m["act/d1/zero_frac"] < 1 and "act/d2/saturated" in m
    assert "act/d1/saturated" not in m
    h = inside[0]["histograms"]["act/d1"]
    assert sum(h["counts"]) == 32 * 16
    store = load([str(tmp_path / "logs")])
    stuck = [f for f in HealthMonitor().update(store) if f.kind == "layer_not_learning"]
    assert [f.extra["layer"] for f in stuck] == ["d2"]
