"""Training orders that can be replayed, and the one way rnnpipe builds its DataLoaders.

Exact resume needs two things from the data: each epoch's order must be a pure function of
``(seed, epoch)``, and the order must be able to start after the batches an interrupted epoch
already trained on. Both samplers here do that (``resume``);
:class:`rnnpipe.training.callbacks.ExactResume` calls it on a DataModule's ``train_sampler`` when
training resumes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler


def epoch_permutation(n: int, seed: int, epoch: int) -> list[int]:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()


class ResumableShuffle(Sampler[int]):
    """Shuffles ``range(num_samples)`` anew each epoch, as a pure function of ``(seed, epoch)``.

    A plain shuffling DataLoader draws each epoch's order from the global random generator, so a
    run resumed from a mid-epoch checkpoint would see another order and end elsewhere. Lightning
    calls :meth:`set_epoch` at the start of every epoch.
    """

    def __init__(self, num_samples: int, seed: int, batch_size: int):
        self.num_samples = num_samples
        self.seed = seed
        self.batch_size = batch_size
        self.epoch = 0
        self.skip = 0  # samples of the current epoch already trained on (set by resume)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.skip = epoch, 0

    def resume(self, epoch: int, batches_done: int) -> None:
        """Continue ``epoch`` after its first ``batches_done`` batches (the next epoch if none
        are left)."""
        samples_done = batches_done * self.batch_size
        if samples_done >= self.num_samples:
            epoch, samples_done = epoch + 1, 0
        self.epoch, self.skip = epoch, samples_done

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0
        yield from epoch_permutation(self.num_samples, self.seed, self.epoch)[skip:]

    def __len__(self) -> int:
        # the whole epoch: Lightning counts the batches done before a resume itself
        return self.num_samples


class LengthBuckets(Sampler[list[int]]):
    """Shuffled batches of sequences of similar length, a pure function of ``(seed, epoch)``.

    The RNN takes one step per position of the longest sequence in a batch, so grouping lengths
    saves most steps. Sequences are shuffled, cut into pools of ``pool_batches`` batches, sorted
    by length within a pool, batched, and the batches shuffled. Lightning calls
    :meth:`set_epoch` before every epoch.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, pool_batches: int = 50):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.pool = batch_size * pool_batches
        self.epoch = 0
        self.skip = 0  # batches of the current epoch already trained on (set by resume)

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.skip = epoch, 0

    def resume(self, epoch: int, batches_done: int) -> None:
        if batches_done >= len(self):
            epoch, batches_done = epoch + 1, 0
        self.epoch, self.skip = epoch, batches_done

    def __iter__(self) -> Iterator[list[int]]:
        skip, self.skip = self.skip, 0
        order = epoch_permutation(len(self.lengths), self.seed, self.epoch)
        batches = []
        for start in range(0, len(order), self.pool):
            pool = sorted(order[start : start + self.pool], key=self.lengths.__getitem__)
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        shuffled = epoch_permutation(len(batches), self.seed + 1, self.epoch)
        for index in shuffled[skip:]:
            yield batches[index]


def make_loader(
    dataset: Sequence[Any],
    collate_fn: Callable[[list[Any]], Any],
    seed: int,
    num_workers: int,
    batch_size: int | None = None,
    sampler: Sampler[int] | None = None,
    batch_sampler: Sampler[list[int]] | None = None,
) -> DataLoader:
    """A DataLoader in rnnpipe's order: ``sampler``/``batch_sampler`` for training, the dataset's
    own order otherwise. It gets a random generator of its own, so creating its iterator draws
    nothing from the global random state that an exact resume restores."""
    batching = (
        {"batch_sampler": batch_sampler}
        if batch_sampler is not None
        else {"batch_size": batch_size}
    )
    return DataLoader(
        dataset,
        sampler=sampler,
        **batching,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=collate_fn,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
