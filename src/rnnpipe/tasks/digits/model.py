"""Many-to-one classification: ``x (B, 64, 1)`` -> RNN -> h_T (B, H) -> linear -> 10 classes.

The network sees one pixel per step and answers after the last: the class must be built up
in the state over all 64 steps (and, permuted, from pixels whose neighbours come far apart).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from rnnpipe.tasks.digits.data import CLASSES
from rnnpipe.training.module import TaskModule


class DigitsClassifier(TaskModule):
    output_columns = ()  # not served: its inputs are pixel intensities, not text

    def __init__(
        self,
        cell: str,
        hidden_size: int,
        num_layers: int,
        nonlinearity: str,
        bptt: str,
        init: str,
        identity_scale: float,
        dropout: float,
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None,
        warmup: dict[str, Any] | None,
        preprocessing: dict[str, Any] | None = None,
        data_config: dict[str, Any] | None = None,
    ):
        super().__init__(optimizer, scheduler, preprocessing, data_config, warmup)
        self.rnn = self.recurrent_layer(1, hidden_size)
        self.head = nn.Linear(hidden_size, CLASSES)
        self.accuracy = nn.ModuleDict(
            {split: MulticlassAccuracy(CLASSES, average="micro") for split in ("val", "test")}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, 64, 1)`` -> class logits ``(B, 10)``."""
        _, final = self.rnn(x)
        return self.head(self.hidden_state(final)[-1])

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = F.cross_entropy(self(batch["x"]), batch["y"])
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["y"]))
        return loss

    def evaluate(self, batch: dict[str, torch.Tensor], split: str) -> None:
        logits = self(batch["x"])
        loss = F.cross_entropy(logits, batch["y"])
        self.accuracy[split].update(logits, batch["y"])
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["y"]))
        self.log(f"{split}/acc", self.accuracy[split], on_step=False, on_epoch=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, "test")
