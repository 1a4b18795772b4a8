"""Greedy and beam search on decoders forced to known distributions: the answers are exact."""

from __future__ import annotations

import math

import pytest
import torch

from rnnpipe.decoding.search import Hypothesis, beam_search, greedy_search

BOS, EOS, A, B, C = 2, 3, 4, 5, 6
VOCAB = 7


def bigram_decoder(tables: list[dict[int, dict[int, float]]]):
    """A step function whose next-token distribution depends on the previous token only:
    ``tables[example][previous][next] = P(next | previous)``; missing tokens get 0."""
    log_tables = torch.full((len(tables), VOCAB, VOCAB), float("-inf"))
    for example, table in enumerate(tables):
        for previous, row in table.items():
            assert math.isclose(sum(row.values()), 1.0), row
            for token, probability in row.items():
                log_tables[example, previous, token] = math.log(probability)
    # a token no table continues (</s>, or one never reached) is only ever the last token of a
    # finished or dead beam: any distribution will do, and the searches normalise the scores
    log_tables[~log_tables.isfinite().any(dim=-1)] = 0.0

    def step(tokens, state):
        return log_tables[state["example"], tokens], state

    return step, {"example": torch.arange(len(tables))}


def best_tokens(found: list[list[Hypothesis]]) -> list[list[int]]:
    """The best hypothesis's tokens of each sentence of a beam search."""
    return [hypotheses[0].tokens for hypotheses in found]


# greedy takes A (0.5) then C; the most likely whole sentence is "B </s>" (0.4 * 0.9 = 0.36,
# against 0.5 * 0.4 = 0.2 for "A C </s>")
GREEDY_TRAP = {
    BOS: {A: 0.5, B: 0.4, C: 0.1},
    A: {C: 0.4, EOS: 0.3, B: 0.3},
    B: {EOS: 0.9, C: 0.1},
    C: {EOS: 1.0},
}
# "</s>" at once has P 0.45 (mean log P -0.80); "A </s>" has 0.55 * 0.7 = 0.385 (mean -0.48)
SHORT_OR_LONG = {BOS: {EOS: 0.45, A: 0.55}, A: {EOS: 0.7, B: 0.3}, B: {EOS: 1.0}}
# never ends: A forever
ENDLESS = {BOS: {A: 1.0}, A: {A: 0.6, B: 0.4}, B: {A: 1.0}}


def test_greedy_takes_the_locally_best_token_and_stops_at_the_end_token():
    step, state = bigram_decoder([GREEDY_TRAP, SHORT_OR_LONG])
    found = greedy_search(step, state, BOS, EOS, max_length=10)
    assert [h.tokens for h in found] == [[A, C], [A]]
    # log P(A C </s>) = log 0.5 + log 0.4 + log 1; log P(A </s>) = log 0.55 + log 0.7
    assert found[0].log_probability == pytest.approx(math.log(0.5 * 0.4))
    assert found[1].log_probability == pytest.approx(math.log(0.55 * 0.7))
    assert found[1].score == pytest.approx(math.log(0.55 * 0.7) / 2)


def test_greedy_stops_at_max_length_without_an_end_token():
    step, state = bigram_decoder([ENDLESS, GREEDY_TRAP])
    found = greedy_search(step, state, BOS, EOS, max_length=4)
    assert [h.tokens for h in found] == [[A, A, A, A], [A, C]]
    assert found[0].log_probability == pytest.approx(math.log(0.6**3))  # no </s> to count
    assert found[1].log_probability == pytest.approx(math.log(0.5 * 0.4))  # stopped at </s>


def test_beam_search_finds_the_sentence_greedy_misses():
    step, state = bigram_decoder([GREEDY_TRAP])
    for length_penalty in (0.0, 1.0):
        [[best]] = beam_search(
            step, state, BOS, EOS, 10, beam_size=2, length_penalty=length_penalty
        )
        assert best.tokens == [B]
        assert best.log_probability == pytest.approx(math.log(0.4 * 0.9))


def test_length_penalty_decides_between_a_short_and_a_long_translation():
    step, state = bigram_decoder([SHORT_OR_LONG])
    short = beam_search(step, state, BOS, EOS, 10, beam_size=2, length_penalty=0.0)
    long = beam_search(step, state, BOS, EOS, 10, beam_size=2, length_penalty=1.0)
    assert best_tokens(short) == [[]]
    assert best_tokens(long) == [[A]]


def test_beam_search_keeps_each_sentence_of_a_batch_apart():
    step, state = bigram_decoder([SHORT_OR_LONG, GREEDY_TRAP, ENDLESS])
    found = beam_search(step, state, BOS, EOS, 3, beam_size=2, length_penalty=1.0)
    # ENDLESS never ends: after 3 steps its best running beam is A B A (P 0.4; A A A has 0.36)
    assert best_tokens(found) == [[A], [B], [A, B, A]]


def test_beam_of_one_is_greedy_on_a_random_decoder():
    torch.manual_seed(0)
    tables = torch.randn(4, VOCAB, VOCAB).mul(2).log_softmax(-1)

    def step(tokens, state):
        return tables[state["example"], tokens], state

    state = {"example": torch.arange(4)}
    greedy = greedy_search(step, state, BOS, EOS, max_length=12)
    beam = beam_search(step, state, BOS, EOS, 12, beam_size=1, length_penalty=0.0)
    assert best_tokens(beam) == [h.tokens for h in greedy]
    assert [b[0].log_probability for b in beam] == pytest.approx(
        [h.log_probability for h in greedy]
    )


def test_beam_size_must_be_positive():
    step, state = bigram_decoder([GREEDY_TRAP])
    with pytest.raises(ValueError, match="beam_size must be >= 1"):
        beam_search(step, state, BOS, EOS, 5, beam_size=0)


# finished first: "A </s>" (0.3) and "B </s>" (0.245) at step 2, "A B </s>" (0.14) at step 3
THREE_ENDINGS = {
    BOS: {A: 0.5, B: 0.35, C: 0.15},
    A: {EOS: 0.6, B: 0.4},
    B: {EOS: 0.7, C: 0.3},
    C: {EOS: 1.0},
}


def test_n_best_returns_the_finished_hypotheses_sorted_by_score():
    step, state = bigram_decoder([THREE_ENDINGS])
    [found] = beam_search(step, state, BOS, EOS, 10, beam_size=3, length_penalty=1.0, n_best=3)
    # ranked by mean log P per token: A </s> (-0.60), A B </s> (-0.66), B </s> (-0.70), though
    # B </s> is more likely than A B </s>
    assert [h.tokens for h in found] == [[A], [A, B], [B]]
    assert [h.log_probability for h in found] == pytest.approx(
        [math.log(0.3), math.log(0.14), math.log(0.245)]
    )
    assert [h.score for h in found] == pytest.approx(
        [math.log(0.3) / 2, math.log(0.14) / 3, math.log(0.245) / 2]
    )
    assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)
    [best_two] = beam_search(step, state, BOS, EOS, 10, beam_size=3, n_best=2)
    assert best_two == found[:2]


def test_n_best_cannot_exceed_the_beam():
    step, state = bigram_decoder([GREEDY_TRAP])
    with pytest.raises(ValueError, match=r"n_best must be in \[1, beam_size=2\], got 3"):
        beam_search(step, state, BOS, EOS, 5, beam_size=2, n_best=3)
