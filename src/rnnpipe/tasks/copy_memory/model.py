"""Many-to-many, aligned: symbol ids ``(B, S)`` -> embedding -> RNN -> linear -> ``(B, S, 9)``.

The loss is the cross-entropy per step over the whole sequence (blanks included), as Arjovsky
et al. report it; the test adds the memoryless baseline, the ratio of the two, and the accuracy
on the k symbols to copy, the part that needs memory.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from rnnpipe.tasks.copy_memory.data import INPUT_CLASSES, OUTPUT_CLASSES, memoryless_loss
from rnnpipe.training.module import TaskModule


class CopyMemoryModel(TaskModule):
    output_columns = ()  # not served: its inputs are symbol ids, not text

    def __init__(
        self,
        symbols: int,
        delay: int,
        cell: str,
        embedding_dim: int,
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
        self.embedding = nn.Embedding(INPUT_CLASSES, embedding_dim)
        self.rnn = self.recurrent_layer(embedding_dim, hidden_size)
        self.head = nn.Linear(hidden_size, OUTPUT_CLASSES)
        self.losses = nn.ModuleDict({split: MeanMetric() for split in ("val", "test")})
        self.copied = MeanMetric()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs (B, S)`` -> logits ``(B, S, 9)``."""
        output, _ = self.rnn(self.embedding(inputs))
        return self.head(output)

    def step_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["inputs"])
        return F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten()), logits

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _ = self.step_loss(batch)
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["inputs"]))
        return loss

    def evaluate(self, batch: dict[str, torch.Tensor], split: str) -> None:
        loss, logits = self.step_loss(batch)
        self.losses[split].update(loss, weight=len(batch["inputs"]))
        if split == "test":
            k = self.hparams.symbols
            right = logits[:, -k:].argmax(-1) == batch["targets"][:, -k:]
            self.copied.update(right.float())

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self.log("val/loss", self.losses["val"].compute())
        self.losses["val"].reset()

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        loss = self.losses["test"].compute()
        baseline = memoryless_loss(self.hparams.delay, self.hparams.symbols)
        self.log_dict(
            {
                "test/loss": loss,
                "test/baseline_loss": baseline,
                "test/loss_ratio": loss / baseline,
                "test/copy_accuracy": self.copied.compute(),
            }
        )
        self.losses["test"].reset()
        self.copied.reset()
