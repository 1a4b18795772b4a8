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

    For a batch where every sequence runs all ``T`` steps, only ``batch_sizes`` is set and the
    batch stays in its order.

    Attributes:
        batch_sizes: active rows at each step, non-increasing (length ``T``).
        order: ``(B,)`` the original row at each sorted position.
        unorder: ``(B,)`` the sorted position of each original row (the inverse of ``order``).
        lengths: ``(B,)`` sorted lengths.
        padding: ``(T, B)`` True at padded steps (time-major, sorted).
        valid_rows: indices of the steps that are not padding among the ``T * B`` rows of a
            time-major ``(T, B, ...)`` tensor viewed as ``(T * B, ...)``.
        reverse_rows: ``(T * B,)`` for a time-major ``(T, B, ...)`` tensor viewed as
            ``(T * B, ...)``, the row each row reads when every sequence is reversed in time
            within its own length; padded steps read themselves.
    """

    batch_sizes: list[int]
    order: Tensor | None = None
    unorder: Tensor | None = None
    lengths: Tensor | None = None
    padding: Tensor | None = None
    valid_rows: Tensor | None = None
    reverse_rows: Tensor | None = None

    @classmethod
    def full(cls, batch_size: int, seq_len: int) -> Packing:
        """Every sequence runs all ``seq_len`` steps."""
        return cls(batch_sizes=[batch_size] * seq_len)

    @classmethod
    def from_lengths(cls, lengths: Tensor, seq_len: int, device: torch.device) -> Packing:
        """Sort by ``lengths`` (a CPU integer tensor, each in ``[1, seq_len]``), longest first.

        A batch already sorted so (a caller that batches many short sequences can sort their
        ids before embedding them, which is cheaper) keeps its order: no sort, no unsort."""
        if bool((lengths[1:] <= lengths[:-1]).all()):
            order = None
        else:
            lengths, order = torch.sort(lengths, descending=True, stable=True)
        steps = torch.arange(seq_len)[:, None]
        padding = steps >= lengths
        reverse_step = torch.where(padding, steps, lengths - 1 - steps)
        reverse_rows = reverse_step * len(lengths) + torch.arange(len(lengths))
        return cls(
            batch_sizes=(~padding).sum(dim=1).tolist(),
            order=None if order is None else order.to(device),
            unorder=None if order is None else torch.argsort(order).to(device),
            lengths=lengths.to(device),
            padding=padding.to(device),
            valid_rows=(~padding).flatten().nonzero().squeeze(1).to(device),
            reverse_rows=reverse_rows.flatten().to(device),
        )

    @property
    def batch_size(self) -> int:
        return self.batch_sizes[0] if self.batch_sizes else 0

    def sort(self, batch: Tensor, dim: int = 0) -> Tensor:
        """Rows of ``batch`` along ``dim`` in sorted order."""
        return batch if self.order is None else batch.index_select(dim, self.order)

    def unsort(self, batch: Tensor, dim: int = 0) -> Tensor:
        """Undo :meth:`sort`: rows back in the caller's order."""
        return batch if self.unorder is None else batch.index_select(dim, self.unorder)

    def reverse(self, steps: Tensor) -> Tensor:
        """Reverse ``(T, B, ...)`` in time within each sequence's own length; padding stays put.

        The reverse direction of a bidirectional layer then runs forward over these steps, with
        the same shrinking batch, starting at each sequence's own last valid step.
        """
        if self.reverse_rows is None:
            return steps.flip(0)
        # whole rows at a time: index_select copies each row's features in one go, where a
        # gather would look up an index for every element
        rows = steps.reshape(-1, *steps.shape[2:]).index_select(0, self.reverse_rows)
        return rows.view(steps.shape)

    def last_steps(self) -> tuple[Tensor | int, Tensor | slice]:
        """Index ``(time, batch)`` of each sequence's last valid step, for ``(..., T, B, H)``.

        ``states[:, time, batch]`` of ``(D, T, B, H)`` states is ``(D, B, H)``.
        """
        if self.lengths is None:
            return -1, slice(None)
        return self.lengths - 1, torch.arange(self.batch_size, device=self.lengths.device)
