"""SIGTERM and SIGINT (and, under SLURM, the time-limit warning) stop a training run at the next
step boundary: a checkpoint at that step (``ckpt_path=last`` resumes it exactly), and the exit
status a shell expects, 128 + the signal's number (143 for SIGTERM, 130 for Ctrl-C)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType

import lightning as L


class StoppedBySignal(SystemExit):
    """Raised once the signal's checkpoint is written; as a SystemExit its code, 128 + the
    signal's number, becomes the process's exit status."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


class CheckpointOnSignal(L.Callback):
    """On any of ``signals`` (by name: SIGTERM, SIGINT, ...), finish the current training batch,
    save ``dirpath/last.ckpt`` and raise :class:`StoppedBySignal`.

    The checkpoint is written by ``trainer.save_checkpoint`` at the end of a training batch, the
    same state as the step checkpoints, so :class:`ExactResume` records the RNG and the position
    in the epoch and a resumed run ends exactly as an uninterrupted one. Lightning's own SIGTERM
    handler is replaced while the trainer runs (its teardown restores it): it would exit with
    status 0, and stop mid-validation or after an epoch's end, states a resume does not continue
    exactly. SIGINT is caught the same way instead of raising KeyboardInterrupt mid-step, which
    could leave a half-applied optimizer step.
    A signal that comes after the last training batch stops the run before it is tested (the
    last checkpoint is then the final one); during testing, at the next test batch.
    """

    def __init__(self, dirpath: str, signals: list[str]):
        self.dirpath = Path(dirpath)
        self.signals = [signal.Signals[name] for name in signals]
        self.received: int | None = None

    def _receive(self, signum: int, frame: FrameType | None) -> None:
        print(f"\nreceived {signal.Signals(signum).name}: stopping at the end of this batch")
        self.received = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after Lightning registered its handlers (it does so once the setup hooks have run)
        self._listen()

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._listen()

    def _listen(self) -> None:
        for signum in self.signals:
            signal.signal(signum, self._receive)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.received is None:
            return
        last = self.dirpath / "last.ckpt"
        partial = last.with_suffix(".ckpt.partial")  # the previous last.ckpt stays whole until then
        trainer.save_checkpoint(partial)
        if trainer.is_global_zero:
            os.replace(partial, last)
        print(
            f"stopped by {signal.Signals(self.received).name} at step {trainer.global_step}; "
            f"checkpoint {last}; continue with: rnnpipe-train ckpt_path=last"
        )
        raise StoppedBySignal(self.received)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop_if_received()

    def on_test_batch_end(self, *args) -> None:
        self._stop_if_received()

    def _stop_if_received(self) -> None:
        if self.received is not None:
            print(f"stopped by {signal.Signals(self.received).name}")
            raise StoppedBySignal(self.received)
