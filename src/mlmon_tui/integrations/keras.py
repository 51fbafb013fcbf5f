"""Keras 3: `MlmonKerasCallback` sends batch and epoch logs.

    model.fit(x, y, callbacks=[MlmonKerasCallback(run="mnist-cnn")])

Every `every_n_batches` training batches it sends the batch logs (`loss`, metrics) at a
global step counting all training batches so far; at the end of each epoch it sends the
epoch logs (including `val_*`) and `epoch` at the same step count. Any Keras backend works
(for PyTorch: `KERAS_BACKEND=torch`).
"""

from __future__ import annotations

import keras

from mlmon_tui.integrations._util import OwnedMonitor, scalars


class MlmonKerasCallback(keras.callbacks.Callback):
    def __init__(self, monitor=None, run: str | None = None, address: str | None = None,
                 every_n_batches: int = 1):
        super().__init__()
        self._mon = OwnedMonitor(monitor, run, address)
        self.every = max(1, int(every_n_batches))
        self.step = 0

    @property
    def monitor(self):
        return self._mon.monitor

    def on_train_begin(self, logs=None):
        mon = self._mon.open(run=getattr(self.model, "name", None))
        try:
            mon.meta.update(epochs=self.params.get("epochs"), steps=self.params.get("steps"))
            mon.log_hparams(optimizer=type(self.model.optimizer).__name__,
                            learning_rate=float(self.model.optimizer.learning_rate))
        except Exception:
            pass

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0 and self.monitor is not None:
            metrics = scalars(logs)
            if metrics:
                self.monitor.log(self.step, metrics)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor is not None:
            self.monitor.log(self.step, {"epoch": epoch, **scalars(logs)})

    def on_train_end(self, logs=None):
        self._mon.finish()
