r"""Dropout that keeps its mask across time: locked (variational) dropout and embedding dropout.

Standard dropout draws a new mask at every step, so a recurrent model sees a different noise on
each word of one sentence. Gal & Ghahramani (2016) drop the same units at every step of a
sequence instead, and whole word types from the embedding:

* **locked dropout**, on a sequence ``x (B, T, D)``: one mask per sequence
  :math:`m \sim \mathrm{Bernoulli}(1 - p)^{B \times 1 \times D}`, the same at every step,
  :math:`\tilde x_{b,t} = x_{b,t} \odot m_b / (1 - p)`;
* **embedding dropout**, on the embedded tokens: each word type :math:`w` of the vocabulary is
  kept with probability :math:`1 - p` for the whole batch, :math:`\tilde e(w) = e(w) z_w /
  (1 - p)`, :math:`z_w \sim \mathrm{Bernoulli}(1 - p)`, so every occurrence of a dropped word
  in the batch reads zeros.

Both are the identity in eval mode and at ``p = 0``. A caller that feeds a sequence one step at
a time (scheduled sampling, a decoder) draws the mask once with :meth:`draw` and passes it to
every step.
"""

from __future__ import annotations

from torch import Tensor, nn


def check_rate(name: str, p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p!r}")


class LockedDropout(nn.Module):
    def __init__(self, p: float):
        check_rate("locked_dropout", p)
        super().__init__()
        self.p = p

    def draw(self, batch_size: int, features: int, like: Tensor) -> Tensor | None:
        """The scaled mask ``(B, 1, D)`` of one batch of sequences; None when off."""
        if not self.training or self.p == 0:
            return None
        keep = like.new_empty(batch_size, 1, features).bernoulli_(1 - self.p)
        return keep / (1 - self.p)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``x (B, T, D)`` times ``mask`` (drawn here unless given), the same at every step."""
        mask = mask if mask is not None else self.draw(x.shape[0], x.shape[-1], x)
        return x if mask is None else x * mask


class EmbeddingDropout(nn.Module):
    def __init__(self, p: float):
        check_rate("embedding_dropout", p)
        super().__init__()
        self.p = p

    def draw(self, embedding: nn.Embedding) -> Tensor | None:
        """The scale ``(V,)`` of every word type for one batch (0 or 1 / (1 - p)); None when
        off."""
        if not self.training or self.p == 0:
            return None
        keep = embedding.weight.new_empty(embedding.num_embeddings).bernoulli_(1 - self.p)
        return keep / (1 - self.p)

    def forward(
        self, embedding: nn.Embedding, tokens: Tensor, scale: Tensor | None = None
    ) -> Tensor:
        """``embedding(tokens)`` ``(..., E)`` with the dropped word types zeroed; ``scale``
        drawn here unless given."""
        embedded = embedding(tokens)
        scale = scale if scale is not None else self.draw(embedding)
        return embedded if scale is None else embedded * scale[tokens].unsqueeze(-1)
