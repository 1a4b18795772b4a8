"""Bit strings, one per line (``0110``); the label of each is its last bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rnnpipe.data.datamodule import TaskDataModule
from rnnpipe.data.splits import stratified_split
from rnnpipe.data.text_file import read_lines
from rnnpipe.data.tokenization import pad_batch
from rnnpipe.errors import DataFormatError

LABELS = ["ends_in_0", "ends_in_1"]


def read_bits(path: str) -> list[str]:
    strings = []
    for number, line in read_lines(path):
        if not line or set(line) - {"0", "1"}:
            raise DataFormatError(path, number, "a string of 0 and 1", repr(line))
        strings.append(line)
    return strings


def bit_ids(bits: str) -> list[int]:
    """``"01"`` -> ``[1, 2]``: id 0 is padding."""
    return [int(bit) + 1 for bit in bits]


class LastBitDataModule(TaskDataModule):
    def __init__(
        self,
        path: str,
        test_path: str | None,
        val_fraction: float,
        test_fraction: float,
        seed: int,
        batch_size: int,
        num_workers: int,
    ):
        super().__init__()

    def read_splits(self) -> dict[str, list[str]]:
        hp = self.hparams
        strings = read_bits(hp.path)
        labels = [int(bits[-1]) for bits in strings]
        parts = stratified_split(labels, hp.val_fraction, hp.test_fraction, hp.seed)
        return {
            split: [strings[i] for i in indices]
            for split, indices in zip(("train", "val", "test"), parts, strict=True)
        }

    def read_test_file(self, path: str) -> list[str]:
        return read_bits(path)

    def fit(self, train: list[str]) -> dict[str, Any]:
        return {"labels": LABELS}  # nothing to learn from the data: two symbols, two labels

    def collate(self, strings: list[str]) -> dict[str, Any]:
        tokens, lengths = pad_batch([bit_ids(bits) for bits in strings], pad_id=0)
        labels = torch.tensor([int(bits[-1]) for bits in strings])
        return {"tokens": tokens, "lengths": lengths, "labels": labels}

    def model_kwargs(self) -> dict[str, Any]:
        return {"labels": list(self.preprocessing["labels"])}

    def training_files(self) -> dict[str, Path]:
        return {"bits": Path(self.hparams.path)}
