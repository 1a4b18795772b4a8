"""Locked dropout keeps one mask per sequence; embedding dropout drops whole word types."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnpipe.layers.dropout import EmbeddingDropout, LockedDropout


def test_locked_dropout_uses_one_mask_per_sequence_at_every_step_and_is_identity_in_eval():
    torch.manual_seed(0)
    dropout = LockedDropout(0.5)
    x = torch.rand(4, 9, 32) + 1.0  # no zeros of its own
    out = dropout(x)
    scale = out / x  # (B, T, D): 0 or 1 / (1 - p)
    assert set(scale.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(scale, scale[:, :1].expand_as(scale))  # the same at every step
    assert not torch.equal(scale[0], scale[1])  # each sequence its own mask
    mask = dropout.draw(4, 32, x)  # drawn once, given to steps fed one at a time
    steps = [dropout(x[:, t : t + 1], mask) for t in range(9)]
    assert torch.equal(torch.cat(steps, 1), x * mask)
    dropout.eval()
    assert torch.equal(dropout(x), x)
    assert torch.equal(LockedDropout(0.0)(x), x)


def test_embedding_dropout_zeroes_whole_word_types_consistently_within_a_batch():
    torch.manual_seed(0)
    embedding = nn.Embedding(20, 8, padding_idx=0)
    dropout = EmbeddingDropout(0.5)
    tokens = torch.randint(1, 20, (6, 15))
    out = dropout(embedding, tokens)
    expected = embedding(tokens)
    dropped = set()
    for word in tokens.unique().tolist():
        where = tokens == word
        if (out[where] == 0).all():
            dropped.add(word)
        else:  # kept everywhere in the batch, scaled by 1 / (1 - p)
            assert torch.allclose(out[where], expected[where] * 2)
    assert 0 < len(dropped) < len(tokens.unique())
    scale = dropout.draw(embedding)  # one draw for a batch fed a step at a time
    steps = [dropout(embedding, tokens[:, t], scale) for t in range(15)]
    assert torch.equal(torch.stack(steps, 1), embedding(tokens) * scale[tokens].unsqueeze(-1))
    dropout.eval()
    assert torch.equal(dropout(embedding, tokens), expected)


@pytest.mark.parametrize("layer", [LockedDropout, EmbeddingDropout])
def test_a_rate_outside_0_to_1_is_refused(layer):
    with pytest.raises(ValueError, match=r"must be in \[0, 1\), got 1.0"):
        layer(1.0)
