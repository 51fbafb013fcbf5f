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

With `activation_batch` (a small batch of inputs, e.g. `x[:64]`) it also runs that batch
through the model at the end of each epoch and logs, per layer of `model.layers`, what
`integrations.torch.watch(activations=True)` logs: `act/<layer>/mean`, `.../std`,
`.../zero_frac`, `.../saturated` (tanh, sigmoid, hard_sigmoid, hard_tanh activations) and the
histogram `act/<layer>`; and `weight_norm/<layer>` and `update_ratio/<layer>` (the change of
the layer's weights over the epoch relative to their size).
"""

from __future__ import annotations

import keras
import numpy as np

from mlmon_tui.integrations._util import OwnedMonitor, scalars

BINS = 32
_BOUNDS = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0),
           "hard_tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0)}


def layer_stats(out, bounds) -> tuple[dict, tuple]:
    """The statistics of one layer's output (numpy): metrics and (edges, counts)."""
    x = np.asarray(out, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if not len(x):
        return {}, ([0.0, 0.0], [0.0])
    m = {"mean": float(x.mean()), "std": float(x.std()), "zero_frac": float((x == 0).mean())}
    if bounds is not None:
        lo, hi = bounds
        eps = 0.02 * (hi - lo)
        m["saturated"] = float(((x <= lo + eps) | (x >= hi - eps)).mean())
    if x.min() == x.max():
        return m, ([float(x.min())] * 2, [float(len(x))])
    counts, edges = np.histogram(x, bins=BINS)
    return m, (edges.tolist(), counts.astype(float).tolist())


class MlmonKerasCallback(keras.callbacks.Callback):
    def __init__(self, monitor=None, run: str | None = None, address: str | None = None,
                 every_n_batches: int = 1, validation_data=None, labels=None,
                 logits: bool = False, prediction_split: str = "val",
                 predict_batch_size: int = 256, activation_batch=None):
        super().__init__()
        self.validation_data = validation_data
        self.labels, self.logits = labels, logits
        self.prediction_split, self.predict_batch_size = prediction_split, predict_batch_size
        self._mon = OwnedMonitor(monitor, run, address)
        self.every = max(1, int(every_n_batches))
        self.step = 0
        self.activation_batch = activation_batch
        self.errors = 0
        self._probe = None
        self._weights: dict[str, list] = {}

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
            if self.activation_batch is not None:
                try:  # a monitoring problem must never stop the training
                    self._inside()
                except Exception:
                    self.errors += 1

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

    def _inside(self) -> None:
        layers = [la for la in self.model.layers if not isinstance(la, keras.layers.InputLayer)]
        if self._probe is None:
            inputs = self.model.inputs
            self._probe = keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                                      [la.output for la in layers])
        outs = self._probe(self.activation_batch, training=False)
        metrics, hists = {}, {}
        for layer, out in zip(layers, outs if isinstance(outs, (list, tuple)) else [outs]):
            act = getattr(getattr(layer, "activation", None), "__name__", "")
            m, h = layer_stats(keras.ops.convert_to_numpy(out), _BOUNDS.get(act))
            metrics.update((f"act/{layer.name}/{k}", v) for k, v in m.items())
            hists[f"act/{layer.name}"] = h
            metrics.update(self._ratio(layer))
        self.monitor.log(self.step, metrics)
        log_h = getattr(self.monitor, "log_histograms", None)
        if log_h is not None:
            log_h(self.step, hists)

    def _ratio(self, layer) -> dict:
        now = [np.asarray(keras.ops.convert_to_numpy(w), dtype=np.float64)
               for w in layer.weights]
        if not now:
            return {}
        then = self._weights.get(layer.name)
        self._weights[layer.name] = now
        wn = float(np.sqrt(sum(float((w * w).sum()) for w in now)))
        out = {f"weight_norm/{layer.name}": wn}
        if then is not None and len(then) == len(now):
            dn = float(np.sqrt(sum(float(((a - b) ** 2).sum()) for a, b in zip(now, then))))
            out[f"update_ratio/{layer.name}"] = dn / wn if wn > 0 else 0.0
        return out

    def on_train_end(self, logs=None):
        self._mon.finish()
