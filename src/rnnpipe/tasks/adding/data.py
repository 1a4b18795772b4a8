"""The adding problem (Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015): a memory test.

Each example is ``steps`` time steps of two channels:

    values  u_1 ... u_T      uniform in [0, 1]
    marker  0 ... 1 ... 1 ... 0     exactly two ones: one in the first half, one in the second

and its target is the sum of the two marked values. To get it right the network must keep the
first marked value for up to T steps. Predicting the mean, 1, scores the trivial MSE
Var(u_a + u_b) = 2/12 = 1/6; a network that cannot remember stays there.

Data is generated from ``seed`` (:class:`GeneratedDataModule`): nothing is read or downloaded.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnpipe.data.generated import GeneratedDataModule

TRIVIAL_MSE = 1.0 / 6.0  # always predicting 1: the variance of a sum of two uniforms


def adding_examples(count: int, steps: int, seed: int) -> tuple[Tensor, Tensor]:
    """``x (N, T, 2)`` (values, marker) and ``y (N,)``, the same for the same arguments."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (one marker in each half), got {steps}")
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(count, steps, generator=generator)
    half = steps // 2
    first = torch.randint(0, half, (count,), generator=generator)
    second = torch.randint(half, steps, (count,), generator=generator)
    marker = torch.zeros(count, steps)
    rows = torch.arange(count)
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    return torch.stack((values, marker), dim=-1), (values * marker).sum(dim=1)


class AddingDataModule(GeneratedDataModule):
    """Generated train/val/test sets of ``*_size`` sequences of ``steps`` steps.

    Batches are dicts: ``x (B, T, 2)``, ``y (B,)``.
    """

    def __init__(
        self,
        steps: int,
        train_size: int,
        val_size: int,
        test_size: int,
        seed: int,
        batch_size: int,
        num_workers: int,
    ):
        super().__init__()

    def generate(self, count: int, seed: int) -> list[tuple[Tensor, Tensor]]:
        x, y = adding_examples(count, self.hparams.steps, seed)
        return list(zip(x, y, strict=True))
