"""Lightning callbacks rnnpipe adds to training runs: exact resume, a non-finite guard and the
gradient-through-time diagnostic."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import lightning as L
import torch

from rnnpipe.data.batching import LengthBuckets, ResumableShuffle
from rnnpipe.errors import RnnpipeError
from rnnpipe.training.module import TaskModule
from rnnpipe.training.plots import save_gradient_through_time

RESUME_KEY = "rnnpipe_resume"


class ExactResume(L.Callback):
    """Make a run resumed from any checkpoint, mid-epoch included, continue as if never stopped.

    Lightning restores the weights, the optimizer and its loop counters. Two things it does not
    restore are saved here: the random generators (dropout, teacher forcing, sampling) and the
    position in the epoch, which is handed to the DataModule's ``train_sampler`` (a
    :class:`ResumableShuffle` or :class:`LengthBuckets`) so the rest of the interrupted epoch
    sees exactly the batches it would have seen.
    """

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict
    ) -> None:
        checkpoint[RESUME_KEY] = {
            "epoch": trainer.current_epoch,
            "batches_done": trainer.fit_loop.epoch_loop.batch_progress.current.processed,
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
        }

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict
    ) -> None:
        saved = checkpoint.get(RESUME_KEY)
        if saved is None or trainer.datamodule is None:
            return
        torch.set_rng_state(saved["torch_rng"])
        random.setstate(saved["python_rng"])
        sampler = getattr(trainer.datamodule, "train_sampler", None)
        if isinstance(sampler, ResumableShuffle | LengthBuckets):
            sampler.resume(saved["epoch"], saved["batches_done"])


class StopOnNonFiniteLoss(L.Callback):
    """Stop at the first NaN or infinite training loss, naming the step.

    The error is raised before anything else is saved, so the checkpoints on disk are the last
    good ones, and the MLflow run is marked FAILED.
    """

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        value = float(loss.detach()) if torch.is_tensor(loss) else float(loss)
        if not math.isfinite(value):
            checkpoint = trainer.checkpoint_callback
            last_good = (
                (checkpoint.last_model_path or checkpoint.best_model_path) if checkpoint else ""
            )
            raise RnnpipeError(
                f"training loss became {value} at step {trainer.global_step} (epoch "
                f"{trainer.current_epoch}, batch {batch_idx}); stopped. Last good checkpoint: "
                f"{last_good or 'none saved yet'}"
            )


class GradientThroughTime(L.Callback):
    """Every ``every_n_steps`` training steps, record ``||dL/dh_t||`` for each time step t of
    the recurrent layer ``rnn``, one of the task module's :meth:`TaskModule.recurrent_layers`
    by its attribute path (``null``: the first, the one that reads the task's input).

    BPTT carries the gradient from where the loss enters back to h_1, multiplying it by
    ``W_hh^T f'(a_t)`` at every step: this shows whether it vanishes or explodes on the way.
    Each record logs ``grad/last_to_first_ratio`` (the norm at the batch's last step over the
    norm at its first), and training ends by saving the records as one plot at ``output_path``.
    See :meth:`RecurrentLayer.gradient_norms_through_time`. ``every_n_steps: null`` turns it off.
    """

    def __init__(self, every_n_steps: int | None, rnn: str | None, output_path: str):
        self.every_n_steps = every_n_steps
        self.rnn_path = rnn
        self.output_path = Path(output_path)
        self.curves: dict[int, list[float]] = {}
        self.recording = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not self.every_n_steps:
            return
        layers = pl_module.recurrent_layers() if isinstance(pl_module, TaskModule) else {}
        if self.rnn_path is None and layers:
            self.rnn_path = next(iter(layers))
        if self.rnn_path not in layers:
            raise RnnpipeError(
                f"callbacks.gradient_through_time.rnn={self.rnn_path}: expected one of the "
                f"recurrent layers of {type(pl_module).__name__}, {sorted(layers)}"
            )
        self.rnn = layers[self.rnn_path]

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self.recording = True
            self.step = trainer.global_step
            self.rnn.record_gradient_through_time = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.recording:
            return
        self.rnn.record_gradient_through_time = self.recording = False
        norms = self.rnn.gradient_norms_through_time()  # the step's last backward (TBPTT chunk)
        if not norms:
            return
        self.curves[self.step] = norms
        if norms[0] > 0:
            for logger in trainer.loggers:  # every record, whatever log_every_n_steps says
                ratio = {"grad/last_to_first_ratio": norms[-1] / norms[0]}
                logger.log_metrics(ratio, step=self.step)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.curves and trainer.is_global_zero:
            steps = sorted(self.curves)
            shown = steps[:: max(1, len(steps) // 8)]  # a readable number of lines
            save_gradient_through_time({s: self.curves[s] for s in shown}, self.output_path)
