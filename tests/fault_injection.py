"""Callbacks that make a training process fail on purpose, for the fault tests, and a
training under a file-size limit.

They are named in Hydra overrides (``+callbacks.kill._target_=fault_injection.KillAtStep``), so
the failure happens inside a real ``rnnpipe-train`` process.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import torch


class KillAtStep(L.Callback):
    """Send ``signal`` (by name) to this process right after optimizer step ``step``; with the
    default, SIGKILL, no clean-up code runs."""

    def __init__(self, step: int, signal: str = "SIGKILL"):
        self.step = step
        self.signal = signal

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.Signals[self.signal])


class StopServerAtStep(L.Callback):
    """SIGKILL the process group whose id is in ``pid_file`` (a tracking server and its workers)
    right after optimizer step ``step``."""

    def __init__(self, step: int, pid_file: str):
        self.step = step
        self.pid_file = pid_file

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.killpg(int(Path(self.pid_file).read_text()), signal.SIGKILL)


class PoisonWeightsAtStep(L.Callback):
    """Set every weight to NaN right after optimizer step ``step``: the next loss is NaN."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                for parameter in pl_module.parameters():
                    parameter.fill_(float("nan"))


def train_with_file_size_limit(
    limit: int, tmp_path: Path, *overrides: str
) -> tuple[int, list[str], str]:
    """``rnnpipe-train`` in a process whose files may not grow past ``limit`` bytes (as on a
    full disk, a write then fails: EFBIG instead of ENOSPC, and SIGXFSZ is ignored so the write
    reports it); its exit status, ``error:`` lines and stderr."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    outputs = (f"paths.output_dir={tmp_path}/outputs", f"paths.tracking_dir={tmp_path}")
    command = [sys.executable, "-m", "rnnpipe.cli.train", *overrides, *outputs]
    finished = subprocess.run(
        command, preexec_fn=limited, capture_output=True, text=True, timeout=300
    )
    errors = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    return finished.returncode, errors, finished.stderr
