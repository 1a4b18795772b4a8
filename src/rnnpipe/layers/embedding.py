"""A word embedding, learned from scratch or started from pretrained vectors."""

from __future__ import annotations

import torch
from torch import nn


def word_embedding(
    vocab_size: int,
    embedding_dim: int,
    pad_id: int,
    pretrained: torch.Tensor | None,
    freeze: bool,
) -> nn.Embedding:
    """``nn.Embedding(vocab_size, embedding_dim)``; with ``pretrained`` vectors ``(V, E)`` (of
    the fitted vocabulary, ``data.embeddings_path``) it starts from them, kept fixed when
    ``freeze``. Vectors of another shape are refused, naming the key to change."""
    if pretrained is None:
        return nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
    if tuple(pretrained.shape) != (vocab_size, embedding_dim):
        raise ValueError(
            f"pretrained embeddings must be (vocab_size, embedding_dim) = "
            f"({vocab_size}, {embedding_dim}), got {tuple(pretrained.shape)}; "
            "set model.embedding_dim to the vectors' dimension"
        )
    return nn.Embedding.from_pretrained(pretrained.float(), freeze=freeze, padding_idx=pad_id)
