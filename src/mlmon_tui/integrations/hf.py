"""Hugging Face Trainer: `MlmonTrainerCallback` sends every `on_log` record.

    trainer = Trainer(..., callbacks=[MlmonTrainerCallback(run="bert-sst2")])

Each `logs` dict the Trainer emits (`loss`, `learning_rate`, `grad_norm`, `eval_loss`, ...)
is sent at `state.global_step`, numbers only. The training arguments go with the hello as
hyper-parameters, and `max_steps` / `num_train_epochs` as metadata. Without `monitor=` and
`run=`, the run is named after `args.run_name` or the output directory.
"""

from __future__ import annotations

import os

from transformers import TrainerCallback

from mlmon_tui.integrations._util import OwnedMonitor, plain, scalars


class MlmonTrainerCallback(TrainerCallback):
    def __init__(self, monitor=None, run: str | None = None, address: str | None = None):
        self._mon = OwnedMonitor(monitor, run, address)

    @property
    def monitor(self):
        return self._mon.monitor

    def on_train_begin(self, args, state, control, **kwargs):
        name = getattr(args, "run_name", None) or os.path.basename(
            os.path.normpath(args.output_dir or "trainer"))
        mon = self._mon.open(run=name)
        try:
            mon.meta.update(max_steps=state.max_steps, num_train_epochs=args.num_train_epochs)
            mon.log_hparams(**plain(args.to_sanitized_dict()))
        except Exception:
            pass

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.monitor is None or not state.is_world_process_zero:
            return
        metrics = scalars(logs)
        if metrics:
            self.monitor.log(state.global_step, metrics)

    def on_train_end(self, args, state, control, **kwargs):
        self._mon.finish()
