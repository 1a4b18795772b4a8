"""Generating token sequences from a language model, one step at a time.

At each step the model gives logits over the vocabulary for the next token; the next token is

* greedy (``temperature=0``): the most likely one;
* sampled from ``softmax(logits / temperature)``, optionally restricted first to the ``top_k``
  most likely tokens and/or to the nucleus (``top_p``): the smallest set of most likely tokens
  whose probability adds up to at least ``top_p``.

Sampling draws from its own ``torch.Generator`` seeded with ``seed``: the same model, inputs and
settings give the same sequences, whatever else used the global random state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

Step = Callable[[Tensor, Any], tuple[Tensor, Any]]  # (tokens (B,), state) -> (logits (B, V), state)


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen, and when a sequence ends (``max_length`` tokens)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    max_length: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be a positive integer or null, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1] or null, got {self.top_p}")
        if self.max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {self.max_length}")


def keep_top_k(logits: Tensor, k: int) -> Tensor:
    """``logits (B, V)`` with all but each row's ``k`` largest set to -inf."""
    kth_largest = logits.topk(min(k, logits.shape[-1]), dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def keep_nucleus(logits: Tensor, p: float) -> Tensor:
    """``logits (B, V)`` with each row limited to its nucleus: the most likely tokens, taken in
    order until their probabilities add up to ``p`` (the most likely token always stays)."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probabilities = sorted_logits.softmax(-1)
    mass_before = probabilities.cumsum(-1) - probabilities
    drop_sorted = mass_before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def choose_next(logits: Tensor, sampling: Sampling, generator: torch.Generator) -> Tensor:
    """The next token ``(B,)`` for each row of ``logits (B, V)``."""
    if sampling.temperature == 0:
        return logits.argmax(-1)
    logits = logits / sampling.temperature
    if sampling.top_k is not None:
        logits = keep_top_k(logits, sampling.top_k)
    if sampling.top_p is not None:
        logits = keep_nucleus(logits, sampling.top_p)
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)


def generate(
    step: Step,
    start: Tensor,
    end_id: int,
    sampling: Sampling,
    state: Any = None,
    forbidden_ids: Sequence[int] = (),
) -> list[list[int]]:
    """Token ids of one sequence per row of ``start (B,)``, each up to (not including) its first
    ``end_id``, at most ``sampling.max_length`` tokens.

    ``step(tokens, state) -> (logits, state)`` advances the model by one token. Tokens in
    ``forbidden_ids`` (padding, unknown, start) are never chosen.
    """
    generator = torch.Generator(device=start.device).manual_seed(sampling.seed)
    forbidden = torch.tensor(list(forbidden_ids), dtype=torch.long, device=start.device)
    tokens = start
    finished = torch.zeros_like(start, dtype=torch.bool)
    chosen = []
    for _ in range(sampling.max_length):
        logits, state = step(tokens, state)
        logits = logits.float().index_fill(1, forbidden, float("-inf"))
        tokens = choose_next(logits, sampling, generator)
        chosen.append(tokens)
        finished |= tokens == end_id
        if bool(finished.all()):
            break
    sequences = []
    for row in torch.stack(chosen, dim=1).tolist():
        sequences.append(row[: row.index(end_id)] if end_id in row else row)
    return sequences
