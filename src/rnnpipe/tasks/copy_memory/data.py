"""The copy-memory task (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016).

An example has ``delay + 2 * symbols`` steps. The input holds ``symbols`` (k) symbols drawn from
1..8, then ``delay - 1`` blanks (0), a delimiter (9), and k more blanks; the target is blank
for the first ``delay + k`` steps and then the k symbols, in order. The network must keep k
symbols across the delay. A memoryless strategy (blank, then a uniform guess over the 8
symbols) scores a cross-entropy of k log 8 / (delay + 2k) per step.

Generated from the seed (:class:`GeneratedDataModule`): nothing is read or downloaded.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rnnpipe.data.generated import GeneratedDataModule

BLANK, DELIMITER = 0, 9
ALPHABET = 8  # symbols 1..8
INPUT_CLASSES = 10  # blank, 8 symbols, delimiter
OUTPUT_CLASSES = 9  # blank and the 8 symbols


def memoryless_loss(delay: int, symbols: int) -> float:
    """Cross-entropy per step of predicting blank, then a uniform guess: k log 8 / (T + 2k)."""
    return symbols * math.log(ALPHABET) / (delay + 2 * symbols)


def copy_examples(count: int, delay: int, symbols: int, seed: int) -> tuple[Tensor, Tensor]:
    """``inputs (N, T + 2k)`` and ``targets (N, T + 2k)`` of symbol ids, the same for the same
    arguments."""
    if delay < 1 or symbols < 1:
        raise ValueError(f"delay and symbols must be positive, got {delay} and {symbols}")
    generator = torch.Generator().manual_seed(seed)
    remembered = torch.randint(1, ALPHABET + 1, (count, symbols), generator=generator)
    steps = delay + 2 * symbols
    inputs = torch.full((count, steps), BLANK)
    inputs[:, :symbols] = remembered
    inputs[:, symbols + delay - 1] = DELIMITER
    targets = torch.full((count, steps), BLANK)
    targets[:, -symbols:] = remembered
    return inputs, targets


class CopyMemoryDataModule(GeneratedDataModule):
    """Generated train/val/test sets of copy-memory sequences.

    Batches are dicts: ``inputs (B, T + 2k)``, ``targets (B, T + 2k)``.
    """

    batch_keys = ("inputs", "targets")

    def __init__(
        self,
        delay: int,
        symbols: int,
        train_size: int,
        val_size: int,
        test_size: int,
        seed: int,
        batch_size: int,
        num_workers: int,
    ):
        super().__init__()

    def generate(self, count: int, seed: int) -> list[tuple[Tensor, Tensor]]:
        hp = self.hparams
        inputs, targets = copy_examples(count, hp.delay, hp.symbols, seed)
        return list(zip(inputs, targets, strict=True))

    def model_kwargs(self) -> dict[str, int]:
        return {"symbols": self.hparams.symbols, "delay": self.hparams.delay}
