"""Attention over the encoder's outputs: which source words a decoder state should read.

For a decoder state s_t (the query) and the encoder outputs h_1..h_S (the memory), each scorer
gives a score e_tj per source position; the weights are a softmax over the sentence's own
positions and the context vector is their weighted sum:

    a_tj = softmax_j(e_tj)          c_t = sum_j a_tj h_j

    additive (Bahdanau):        e_tj = v^T tanh(W_q s_t + W_k h_j)
    multiplicative (Luong):     e_tj = s_t^T W h_j

Everything that depends on the memory alone (W_k h_j, W h_j) is computed once per sentence by
:meth:`keys`, not once per decoder step.

Shapes: queries ``(B, T, Q)``, memory ``(B, S, M)``, source_mask ``(B, S)`` True at real
tokens, context ``(B, T, M)``, weights ``(B, T, S)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ATTENTIONS = ("additive", "multiplicative", "none")


class Attention(nn.Module):
    """Masked softmax of the scores and the context vector; subclasses define the scores."""

    def keys(self, memory: Tensor) -> Tensor:
        """What the scores need from the memory, computed once per sentence."""
        raise NotImplementedError

    def score(self, queries: Tensor, keys: Tensor) -> Tensor:
        """``e_tj``: ``(B, T, S)``."""
        raise NotImplementedError

    def forward(
        self, queries: Tensor, keys: Tensor, memory: Tensor, source_mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``(context (B, T, M), weights (B, T, S))``; padded source positions get weight 0."""
        scores = self.score(queries, keys).masked_fill(~source_mask[:, None, :], float("-inf"))
        weights = scores.softmax(dim=-1)
        return weights @ memory, weights


class AdditiveAttention(Attention):
    """Bahdanau's score: a one-hidden-layer network of the query and each source state."""

    def __init__(self, query_size: int, memory_size: int, attention_size: int):
        super().__init__()
        self.query_projection = nn.Linear(query_size, attention_size, bias=False)  # W_q
        self.key_projection = nn.Linear(memory_size, attention_size)  # W_k (and a bias)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        return self.key_projection(memory)  # (B, S, A)

    def score(self, queries: Tensor, keys: Tensor) -> Tensor:
        hidden = torch.tanh(self.query_projection(queries)[:, :, None, :] + keys[:, None, :, :])
        return self.v(hidden).squeeze(-1)  # (B, T, S, A) -> (B, T, S)


class MultiplicativeAttention(Attention):
    """Luong's "general" score: a bilinear form between the query and each source state."""

    def __init__(self, query_size: int, memory_size: int):
        super().__init__()
        self.weight = nn.Linear(memory_size, query_size, bias=False)  # W

    def keys(self, memory: Tensor) -> Tensor:
        return self.weight(memory)  # W h_j: (B, S, Q)

    def score(self, queries: Tensor, keys: Tensor) -> Tensor:
        return queries @ keys.transpose(1, 2)  # s_t . (W h_j)


def build_attention(
    kind: str, query_size: int, memory_size: int, attention_size: int
) -> Attention | None:
    """The scorer named by ``kind``; None for ``"none"`` (the classic context-vector seq2seq)."""
    if kind == "additive":
        return AdditiveAttention(query_size, memory_size, attention_size)
    if kind == "multiplicative":
        return MultiplicativeAttention(query_size, memory_size)
    if kind == "none":
        return None
    raise ValueError(f"attention must be one of {ATTENTIONS}, got {kind!r}")
