"""bits (B, T) -> embedding (B, T, 4) -> VanillaRNN -> h_T (B, H) -> linear -> logits (B, 2)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from last_bit.data import bit_ids
from rnnpipe.data.tokenization import pad_batch
from rnnpipe.training.module import TaskModule


class LastBitClassifier(TaskModule):
    input_columns = ("bits",)
    input_description = "a 'bits' column of strings of 0 and 1"
    output_columns = ("label",)

    def __init__(
        self,
        labels: list[str],
        hidden_size: int,
        num_layers: int,
        nonlinearity: str,
        bptt: str,
        dropout: float,
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None,
        serving: dict[str, Any],
        preprocessing: dict[str, Any] | None = None,
        data_config: dict[str, Any] | None = None,
    ):
        super().__init__(optimizer, scheduler, preprocessing, data_config, serving=serving)
        self.embedding = nn.Embedding(3, 4, padding_idx=0)
        self.rnn = self.recurrent_layer(4, hidden_size)
        self.head = nn.Linear(hidden_size, len(labels))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, h_n = self.rnn(self.embedding(tokens), lengths=lengths)
        return self.head(h_n[-1])

    def step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        logits = self(batch["tokens"], batch["lengths"])
        loss = F.cross_entropy(logits, batch["labels"])
        accuracy = (logits.argmax(-1) == batch["labels"]).float().mean()
        size = len(logits)
        self.log_dict({f"{stage}/loss": loss, f"{stage}/acc": accuracy}, batch_size=size)
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self.step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.step(batch, "test")

    def parse_input(self, row: int, record: dict[str, Any]) -> list[int]:
        bits = record.get("bits")
        if not isinstance(bits, str) or not bits or set(bits) - {"0", "1"}:
            raise ValueError(f"bits {row}: expected a string of 0 and 1, got {bits!r}")
        return bit_ids(bits)

    def predict_batch(self, encoded: list[list[int]]) -> list[dict[str, Any]]:
        tokens, lengths = pad_batch(encoded, pad_id=0)
        predicted = self(tokens.to(self.device), lengths).argmax(-1).tolist()
        return [{"label": self.hparams.labels[index]} for index in predicted]

    def serving_example(self) -> pd.DataFrame:
        return pd.DataFrame({"bits": ["0110", "111"]})
