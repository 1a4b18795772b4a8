"""Many-to-one regression: ``x (B, T, 2)`` -> RNN -> h_T (B, H) -> linear -> the sum (B,).

The RNN is the vanilla one (``cell: vanilla``: tanh, or ReLU with the identity init, the IRNN),
or a GRU or LSTM to compare with.

The loss is the mean squared error. Test reports it beside the trivial MSE of predicting 1 on
the same examples (``test/baseline_mse``, 1/6 in expectation) and their ratio: below 1 only if
the network remembered the first marked value until the end.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from rnnpipe.training.module import TaskModule


class AddingRegressor(TaskModule):
    output_columns = ()  # not served: its inputs are numbers, not text

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
        self.rnn = self.recurrent_layer(2, hidden_size)
        self.head = nn.Linear(hidden_size, 1)
        self.errors = nn.ModuleDict({split: MeanMetric() for split in ("val", "test")})
        self.baseline = MeanMetric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, T, 2)`` -> the predicted sums ``(B,)``."""
        _, final = self.rnn(x)
        return self.head(self.hidden_state(final)[-1]).squeeze(-1)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = F.mse_loss(self(batch["x"]), batch["y"])
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["y"]))
        return loss

    def evaluate(self, batch: dict[str, torch.Tensor], split: str) -> None:
        squared = (self(batch["x"]) - batch["y"]) ** 2
        self.errors[split].update(squared)
        if split == "test":
            self.baseline.update((batch["y"] - 1.0) ** 2)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self.log("val/mse", self.errors["val"].compute())
        self.errors["val"].reset()

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        mse, baseline = self.errors["test"].compute(), self.baseline.compute()
        self.log_dict(
            {"test/mse": mse, "test/baseline_mse": baseline, "test/mse_ratio": mse / baseline}
        )
        self.errors["test"].reset()
        self.baseline.reset()
