"""A training order that can be replayed: the key to resuming mid-epoch exactly."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableShuffle(Sampler[int]):
    """Shuffles ``range(num_samples)`` anew each epoch, as a pure function of ``(seed, epoch)``.

    A plain shuffling DataLoader draws each epoch's order from the global random generator, so a
    run resumed from a mid-epoch checkpoint sees a different order and ends elsewhere. Here any
    epoch's order can be rebuilt, and :meth:`resume` skips the samples already trained on.
    Lightning calls :meth:`set_epoch` at the start of every epoch.
    """

    def __init__(self, num_samples: int, seed: int):
        self.num_samples = num_samples
        self.seed = seed
        self.epoch = 0
        self.skip = 0  # samples of the current epoch already trained on (set by resume)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.skip = epoch, 0

    def resume(self, epoch: int, samples_done: int) -> None:
        """Continue ``epoch`` after its first ``samples_done`` samples (the next epoch if none
        are left)."""
        if samples_done >= self.num_samples:
            epoch, samples_done = epoch + 1, 0
        self.epoch, self.skip = epoch, samples_done

    def order(self, epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed + epoch)
        return torch.randperm(self.num_samples, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0
        yield from self.order(self.epoch)[skip:]

    def __len__(self) -> int:
        # the whole epoch: Lightning counts the batches done before a resume itself
        return self.num_samples
