"""Attention scores against their formulas; weights are a distribution over real source words."""

from __future__ import annotations

import pytest
import torch

from rnnpipe.layers.attention import (
    AdditiveAttention,
    MultiplicativeAttention,
    build_attention,
)

B, T, S, Q, M, A = 2, 3, 4, 5, 6, 7


@pytest.fixture
def inputs():
    torch.manual_seed(0)
    queries, memory = torch.randn(B, T, Q), torch.randn(B, S, M)
    source_mask = torch.tensor([[True] * S, [True, True, False, False]])  # 2nd sentence: 2 words
    return queries, memory, source_mask


def test_additive_scores_follow_bahdanau(inputs):
    queries, memory, _ = inputs
    attention = AdditiveAttention(Q, M, A)
    scores = attention.score(queries, attention.keys(memory))
    w_q, w_k, b_k = (
        attention.query_projection.weight,
        attention.key_projection.weight,
        attention.key_projection.bias,
    )
    v = attention.v.weight[0]
    for b in range(B):
        for t in range(T):
            for j in range(S):
                expected = v @ torch.tanh(w_q @ queries[b, t] + w_k @ memory[b, j] + b_k)
                torch.testing.assert_close(scores[b, t, j], expected)


def test_multiplicative_scores_follow_luong(inputs):
    queries, memory, _ = inputs
    attention = MultiplicativeAttention(Q, M)
    scores = attention.score(queries, attention.keys(memory))
    w = attention.weight.weight  # (Q, M)
    expected = torch.einsum("btq,qm,bsm->bts", queries, w, memory)
    torch.testing.assert_close(scores, expected)


@pytest.mark.parametrize("kind", ["additive", "multiplicative"])
def test_weights_cover_only_real_words_and_context_is_their_mix(inputs, kind):
    queries, memory, source_mask = inputs
    attention = build_attention(kind, Q, M, A)
    context, weights = attention(queries, attention.keys(memory), memory, source_mask)
    assert context.shape == (B, T, M) and weights.shape == (B, T, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, T))
    assert (weights[1, :, 2:] == 0).all()
    assert (weights[1, :, :2] > 0).all()
    torch.testing.assert_close(context, torch.einsum("bts,bsm->btm", weights, memory))
    # padding is ignored: whatever sits there changes nothing
    changed = memory.clone()
    changed[1, 2:] = 100.0
    context_changed, _ = attention(queries, attention.keys(changed), changed, source_mask)
    torch.testing.assert_close(context_changed, context)


def test_none_builds_no_attention_and_unknown_kinds_fail():
    assert build_attention("none", Q, M, A) is None
    with pytest.raises(ValueError, match="attention must be one of"):
        build_attention("dot-product", Q, M, A)
