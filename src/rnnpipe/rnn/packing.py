"""Variable lengths the way packing does them: sort the batch, shrink it as sequences end.

A batch sorted longest first has, at every time step t, its active sequences in the first
``batch_sizes[t]`` rows. Running the recurrence on just those rows gives zero outputs at padded
steps and leaves each finished sequence's state at its own last valid step, with no masking.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Packing:
    """The step plan of one batch of ``B`` sequences padded to ``T`` steps.

    Attributes:
        batch_sizes: active rows at each step, non-increasing (length ``T``).
        order: ``(B,)`` row of the original batch at each sorted position; None when every
            sequence is full length and the batch stays as it is.
        lengths: ``(B,)`` sorted lengths on the data's device; None for full length.
    """

    batch_sizes: list[int]
    order: Tensor | None = None
    lengths: Tensor | None = None

    @classmethod
    def full(cls, batch_size: int, seq_len: int) -> Packing:
        """Every sequence runs all ``seq_len`` steps."""
        return cls(batch_sizes=[batch_size] * seq_len)

    @classmethod
    def from_lengths(cls, lengths: Tensor, seq_len: int, device: torch.device) -> Packing:
        """Sort by ``lengths`` (a CPU integer tensor, each in ``[1, seq_len]``), longest first."""
        sorted_lengths, order = torch.sort(lengths, descending=True, stable=True)
        steps = torch.arange(seq_len)
        batch_sizes = (sorted_lengths[None, :] > steps[:, None]).sum(dim=1).tolist()
        return cls(batch_sizes, order.to(device), sorted_lengths.to(device))

    @property
    def batch_size(self) -> int:
        return self.batch_sizes[0] if self.batch_sizes else 0

    @property
    def padding(self) -> Tensor | None:
        """``(T, B)`` True at padded steps (time-major, sorted); None for full length."""
        if self.lengths is None:
            return None
        steps = torch.arange(len(self.batch_sizes), device=self.lengths.device)
        return steps[:, None] >= self.lengths[None, :]

    def sort(self, batch: Tensor, dim: int = 0) -> Tensor:
        """Rows of ``batch`` along ``dim`` in sorted order."""
        return batch if self.order is None else batch.index_select(dim, self.order)

    def unsort(self, batch: Tensor, dim: int = 0) -> Tensor:
        """Undo :meth:`sort`: rows back in the caller's order."""
        if self.order is None:
            return batch
        return batch.index_select(dim, torch.argsort(self.order))

    def reverse(self, steps: Tensor) -> Tensor:
        """Reverse ``(T, B, ...)`` in time within each sequence's own length; padding stays put.

        The reverse direction of a bidirectional layer then runs forward over these steps, with
        the same shrinking batch, starting at each sequence's own last valid step.
        """
        if self.lengths is None:
            return steps.flip(0)
        t = torch.arange(len(self.batch_sizes), device=steps.device)[:, None]
        source = torch.where(t < self.lengths, self.lengths - 1 - t, t)  # (T, B)
        source = source.view(*source.shape, *[1] * (steps.dim() - 2)).expand_as(steps)
        return steps.gather(0, source)

    def last_steps(self) -> tuple[Tensor | int, Tensor | slice]:
        """Index ``(time, batch)`` of each sequence's last valid step, for ``(..., T, B, H)``.

        ``states[:, time, batch]`` of ``(D, T, B, H)`` states is ``(D, B, H)``.
        """
        if self.lengths is None:
            return -1, slice(None)
        return self.lengths - 1, torch.arange(self.batch_size, device=self.lengths.device)
