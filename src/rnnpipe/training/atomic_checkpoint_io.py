"""Lightning's checkpoint writer, made atomic within the checkpoint's own folder.

Lightning's own save goes through fsspec, whose local transaction writes a temporary file in the
system's temp folder and moves it: across filesystems a move is a copy, and a full disk or a
kill mid-copy left a truncated ``.ckpt`` under its final name. Here the bytes go to a temporary
file beside the checkpoint and are renamed (:mod:`rnnpipe.atomic_files`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from rnnpipe.atomic_files import write_bytes


class AtomicCheckpointIO(TorchCheckpointIO):
    """``trainer.plugins``: every checkpoint the Trainer writes appears whole or not at all."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_bytes(path, buffer.getvalue())
