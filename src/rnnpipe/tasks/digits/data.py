"""Sequential (and permuted) digits: the small-data stand-in for pixel-by-pixel MNIST.

Le, Jaitly & Hinton (2015) read each 28x28 MNIST image one pixel at a time (784 steps), and,
harder, in one fixed random order of the pixels (permuted MNIST), so that neighbouring pixels
lie far apart in time. MNIST cannot be downloaded here; scikit-learn ships the UCI 8x8 digits
(1,797 images, 10 classes, intensities 0..16) inside its package, so the same task runs
offline with 64 steps:

    x_t = pixel_t / 16          t = 1..64, row by row (or permuted: pixel_pi(t))

Splits are stratified by class with ``split_seed``, fixed apart from ``seed`` so every seed of
a recipe is scored on the same test images; the permutation comes from ``permutation_seed``.
Batches are dicts: ``x (B, 64, 1)``, ``y (B,)``.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor

from rnnpipe.data.generated import GeneratedDataModule

PIXELS = 64  # 8 x 8
INTENSITY_MAX = 16.0
CLASSES = 10


def pixel_order(permuted: bool, permutation_seed: int) -> Tensor:
    """The order the pixels are read in: row by row, or one fixed permutation of the seed."""
    if not permuted:
        return torch.arange(PIXELS)
    return torch.randperm(PIXELS, generator=torch.Generator().manual_seed(permutation_seed))


def digit_sequences(order: Tensor) -> tuple[Tensor, Tensor]:
    """Every image as ``x (N, 64, 1)`` in [0, 1], pixels in ``order``, and its class ``y (N,)``."""
    images, labels = load_digits(return_X_y=True)
    pixels = torch.as_tensor(images, dtype=torch.float32) / INTENSITY_MAX
    return pixels[:, order, None], torch.as_tensor(labels, dtype=torch.long)


class DigitsDataModule(GeneratedDataModule):
    def __init__(
        self,
        permuted: bool,
        permutation_seed: int,
        val_fraction: float,
        test_fraction: float,
        split_seed: int,
        seed: int,
        batch_size: int,
        num_workers: int,
    ):
        super().__init__()

    def read_splits(self) -> dict[str, list[tuple[Tensor, Tensor]]]:
        hp = self.hparams
        x, y = digit_sequences(pixel_order(hp.permuted, hp.permutation_seed))
        everything = torch.arange(len(y))
        rest, test = train_test_split(
            everything, test_size=hp.test_fraction, stratify=y, random_state=hp.split_seed
        )
        train, val = train_test_split(
            rest,
            test_size=hp.val_fraction / (1 - hp.test_fraction),
            stratify=y[rest],
            random_state=hp.split_seed,
        )
        return {
            name: list(zip(x[rows], y[rows], strict=True))
            for name, rows in (("train", train), ("val", val), ("test", test))
        }
