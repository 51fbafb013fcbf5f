"""Lightning: `MlmonCallback` sends what the LightningModule logs, plus gradient norms.

    trainer = L.Trainer(callbacks=[MlmonCallback(run="my-run")])

Every `every_n_steps` optimizer steps it sends `trainer.logged_metrics` (what `self.log`
recorded) and, with `grad_norms=True`, the global and per-layer gradient norms taken just
before the optimizer step (`grad_norm`, `grad_norm/<layer>`), all at `trainer.global_step`.
At the end of each validation run it sends the `trainer.callback_metrics` that validation
set or changed (e.g. `val_loss`).
With `predictions=True` it also collects the validation predictions: `validation_step`
returns a dict holding the labels (`y_true`, `target`, `targets` or `labels`) and the scores
(`y_score`, `probs` or `scores`: probabilities; `logits`: logits; `preds`: class indices),
and at the end of each validation run they go to `Monitor.log_predictions` (split
`prediction_split`, class names `labels`): accuracy, precision, recall, F1, AUC, curves and
the confusion matrix at `trainer.global_step`. The tensors stay on their device until then.
Hyper-parameters (`pl_module.hparams`) go with the hello. Pass `monitor=` to share an open
`Monitor`; otherwise the callback opens one (`run`, `address` as for `Monitor`) and closes it
at the end of fit.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from mlmon_tui.integrations._predictions import PredictionBuffer
from mlmon_tui.integrations._util import OwnedMonitor, plain, scalars
from mlmon_tui.integrations.torch import GradNorms


class MlmonCallback(Callback):
    def __init__(self, monitor=None, run: str | None = None, address: str | None = None,
                 every_n_steps: int = 1, grad_norms: bool = True, prefix: str = "grad_norm",
                 predictions: bool = False, prediction_split: str = "val", labels=None):
        self._mon = OwnedMonitor(monitor, run, address)
        self.every = max(1, int(every_n_steps))
        self.grad_norms = grad_norms
        self.prefix = prefix
        self._norms: GradNorms | None = None
        self._pending: dict[str, float] = {}
        self._val_keys: set[str] = set()
        self._before_val: dict[str, float] = {}
        self.predictions = predictions
        self.prediction_split = prediction_split
        self.labels = labels
        self._preds = PredictionBuffer()

    @property
    def monitor(self):
        return self._mon.monitor

    def on_fit_start(self, trainer, pl_module) -> None:
        mon = self._mon.open(run=type(pl_module).__name__)
        try:
            mon.log_hparams(**plain(getattr(pl_module, "hparams", {})))
        except Exception:
            pass
        if self.grad_norms:
            self._norms = GradNorms(pl_module.named_parameters(), self.prefix)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        # global_step is incremented after this optimizer step: aim at the step it becomes
        if self._norms is not None and (trainer.global_step + 1) % self.every == 0:
            try:
                self._pending = self._norms.compute()
            except Exception:
                self._pending = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step % self.every or self.monitor is None:
            return
        metrics = {k: v for k, v in scalars(trainer.logged_metrics).items()
                   if k not in self._val_keys}  # kept from the last validation: not new
        metrics.update(self._pending)
        self._pending = {}
        if metrics:
            self.monitor.log(step, metrics)

    def on_validation_start(self, trainer, pl_module) -> None:
        self._before_val = scalars(trainer.callback_metrics)
        self._preds.clear()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx,
                                dataloader_idx=0) -> None:
        if self.predictions and not trainer.sanity_checking:
            self._preds.add(outputs)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or self.monitor is None:
            return
        before = self._before_val
        # only what validation logged: training values it did not touch are not repeated
        metrics = {k: v for k, v in scalars(trainer.callback_metrics).items()
                   if k not in before or before[k] != v}
        self._val_keys.update(metrics)
        if metrics:
            self.monitor.log(trainer.global_step, metrics)
        if self.predictions:
            self._preds.log(self.monitor, trainer.global_step, self.prediction_split,
                            self.labels)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._mon.finish()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._mon.finish()
