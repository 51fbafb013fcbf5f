"""Keras 3: `MlmonKerasCallback` sends batch and epoch logs.

    model.fit(x, y, callbacks=[MlmonKerasCallback(run="mnist-cnn")])

Every `every_n_batches` training batches it sends the batch logs (`loss`, metrics) at a
global step counting all training batches so far; at the end of each epoch it sends the
epoch logs (including `val_*`) and `epoch` at the same step count. Any Keras backend works
(for PyTorch: `KERAS_BACKEND=torch`).

With `validation_data=(x_val, y_val)` it also predicts on that data at the end of each epoch
and sends the predictions to `Monitor.log_predictions` (split `prediction_split`, class names
`labels`; `logits=True` when the model's last layer has no softmax / sigmoid): accuracy,
precision, recall, F1, AUC, curves and the confusion matrix. `y_val` holds class indices or
one-hot rows; the model outputs one probability per sample (binary) or one per class.
"""

from __future__ import annotations

import keras

from mlmon_tui.integrations._util import OwnedMonitor, scalars


class MlmonKerasCallback(keras.callbacks.Callback):
    def __init__(self, monitor=None, run: str | None = None, address: str | None = None,
                 every_n_batches: int = 1, validation_data=None, labels=None,
                 logits: bool = False, prediction_split: str = "val",
                 predict_batch_size: int = 256):
        super().__init__()
        self.validation_data = validation_data
        self.labels, self.logits = labels, logits
        self.prediction_split, self.predict_batch_size = prediction_split, predict_batch_size
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
            if self.validation_data is not None:
                self._log_predictions()

    def _log_predictions(self) -> None:
        import numpy as np

        try:
            x, y = self.validation_data[0], np.asarray(self.validation_data[1])
            scores = np.asarray(self.model.predict(x, batch_size=self.predict_batch_size,
                                                   verbose=0))
        except Exception as e:  # a failed prediction must not stop training
            self.monitor._prediction_problem(self.step, self.prediction_split,
                                             f"model.predict failed: {e}")
            return
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot
            y = y.argmax(axis=1)
        self.monitor.log_predictions(self.step, y.reshape(-1), scores,
                                     split=self.prediction_split, labels=self.labels,
                                     logits=self.logits)

    def on_train_end(self, logs=None):
        self._mon.finish()
