"""Lightning callbacks rnnpipe adds to every training run: exact resume and a non-finite guard."""

from __future__ import annotations

import math
import random
from typing import Any

import lightning as L
import torch

from rnnpipe.data.batching import LengthBuckets, ResumableShuffle
from rnnpipe.errors import RnnpipeError

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
