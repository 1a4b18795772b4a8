"""Data that needs no file of the user's, for the memory tasks: nothing is read or downloaded.

A subclass writes ``generate(count, seed)``, the examples of one split; each split draws from a
stream of its own (``seed * 3 + 0, 1, 2`` for train, val, test), so the same seed always gives
the same data and no split repeats another's examples. Hyperparameters ``train_size``,
``val_size``, ``test_size`` and ``seed`` are then required. A task whose examples ship inside
a library (the digits) writes its own ``read_splits`` instead. An example is a pair of tensors;
a batch stacks each side under its name in ``batch_keys``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from rnnpipe.data.datamodule import TaskDataModule

STREAMS = {"train": 0, "val": 1, "test": 2}


class GeneratedDataModule(TaskDataModule):
    batch_keys: ClassVar[tuple[str, str]] = ("x", "y")  # the batch's names for the two sides

    def generate(self, count: int, seed: int) -> list[Any]:
        raise NotImplementedError

    def read_splits(self) -> dict[str, list[Any]]:
        hp = self.hparams
        return {
            split: self.generate(hp[f"{split}_size"], hp.seed * len(STREAMS) + stream)
            for split, stream in STREAMS.items()
        }

    def collate(self, examples: list[tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
        sides = zip(*examples, strict=True)
        return {key: torch.stack(side) for key, side in zip(self.batch_keys, sides, strict=True)}

    def fit(self, train: list[Any]) -> dict[str, Any]:
        """Nothing to fit (the inputs are numbers); the state records how the data was made."""
        return {"generated": {k: v for k, v in self.hparams.items() if k != "num_workers"}}

    def model_kwargs(self) -> dict[str, Any]:
        return {}

    def training_files(self) -> dict[str, Path]:
        return {}  # generated from the seed
