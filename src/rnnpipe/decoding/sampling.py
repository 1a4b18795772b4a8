"""Generating token sequences from a language model, one step at a time.

At each step the model gives logits over the vocabulary for the next token; the next token is

* greedy (``temperature=0``): the most likely one;
* sampled from ``softmax(logits / temperature)``, optionally restricted first to the ``top_k``
  most likely tokens and/or to the nucleus (``top_p``): the smallest set of most likely tokens
  whose probability adds up to at least ``top_p``.

Sampling draws from its own ``torch.Generator`` seeded with ``seed``: the same model, inputs and
settings give the same sequences, whatever else used the global random state.

Each sequence comes with its log-probability under the distribution its tokens were drawn from:
``softmax(logits / temperature)`` after the top-k and nucleus cuts (renormalised over what they
keep, the forbidden tokens excluded), summed over its tokens and the end token when it ended.
Greedy (``temperature=0``) is certain of its choice: its log-probability is 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rnnpipe.decoding.time_limit import check_time

Step = Callable[[Tensor, Any], tuple[Tensor, Any]]  # (tokens (B,), state) -> (logits (B, V), state)


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen, and when a sequence ends (``max_length`` tokens)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    max_length: int = 200
    seed: int = 0

    @classmethod
    def from_params(
        cls, temperature: float, top_k: int, top_p: float, max_length: int, seed: int
    ) -> Sampling:
        """From :meth:`as_params`' form, where ``top_k`` 0 and ``top_p`` 1.0 mean no cut."""
        return cls(temperature, top_k or None, None if top_p == 1.0 else top_p, max_length, seed)

    def as_params(self) -> dict[str, Any]:
        """The settings as per-request params: MLflow's ParamSchema takes no null, so no top-k
        cut is ``top_k`` 0 and no nucleus ``top_p`` 1.0 (the whole distribution)."""
        return {
            "temperature": float(self.temperature),
            "top_k": self.top_k or 0,
            "top_p": 1.0 if self.top_p is None else float(self.top_p),
            "max_length": self.max_length,
            "seed": self.seed,
        }

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


def choose_next(
    logits: Tensor, sampling: Sampling, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """The next token ``(B,)`` for each row of ``logits (B, V)``, and its log-probability
    ``(B,)`` under the distribution it was drawn from (0 for greedy)."""
    if sampling.temperature == 0:
        return logits.argmax(-1), logits.new_zeros(len(logits))
    logits = logits / sampling.temperature
    if sampling.top_k is not None:
        logits = keep_top_k(logits, sampling.top_k)
    if sampling.top_p is not None:
        logits = keep_nucleus(logits, sampling.top_p)
    probabilities = logits.softmax(-1)
    tokens = torch.multinomial(probabilities, 1, generator=generator).squeeze(1)
    return tokens, probabilities.gather(1, tokens[:, None]).squeeze(1).log()


@dataclass(frozen=True)
class Sample:
    """A generated sequence (without its end token) and its log-probability (module doc)."""

    tokens: list[int]
    log_probability: float


def generate(
    step: Step,
    start: Tensor,
    end_id: int,
    sampling: Sampling,
    state: Any = None,
    forbidden_ids: Sequence[int] = (),
) -> list[Sample]:
    """One sequence per row of ``start (B,)``, each up to (not including) its first ``end_id``,
    at most ``sampling.max_length`` tokens, with its log-probability.

    ``step(tokens, state) -> (logits, state)`` advances the model by one token. Tokens in
    ``forbidden_ids`` (padding, unknown, start) are never chosen.
    """
    generator = torch.Generator(device=start.device).manual_seed(sampling.seed)
    forbidden = torch.tensor(list(forbidden_ids), dtype=torch.long, device=start.device)
    tokens = start
    finished = torch.zeros_like(start, dtype=torch.bool)
    log_probability = torch.zeros(len(start), device=start.device)
    chosen = []
    for _ in range(sampling.max_length):
        check_time()  # the request's time limit (rnnpipe.decoding.time_limit)
        logits, state = step(tokens, state)
        logits = logits.float().index_fill(1, forbidden, float("-inf"))
        tokens, log_p = choose_next(logits, sampling, generator)
        log_probability += log_p.where(~finished, 0.0)  # an ended sequence adds nothing more
        chosen.append(tokens)
        finished |= tokens == end_id
        if bool(finished.all()):
            break
    samples = []
    rows = torch.stack(chosen, dim=1).tolist()
    for row, log_p in zip(rows, log_probability.tolist(), strict=True):
        samples.append(Sample(row[: row.index(end_id)] if end_id in row else row, log_p))
    return samples
