"""Choosing next tokens: greedy, temperature, top-k, top-p; seeded generation that stops at </s>."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnpipe.decoding.sampling import Sampling, choose_next, generate, keep_nucleus, keep_top_k

VOCAB, END = 12, 3


def bigram_model(seed: int = 0):
    """A fixed random next-token table: logits depend on the previous token only."""
    table = torch.randn(VOCAB, VOCAB, generator=torch.Generator().manual_seed(seed)) * 2

    def step(tokens, state):
        return table[tokens], state

    return step


def run(sampling: Sampling, rows: int = 8, step=None, forbidden=(0, 1)) -> list[list[int]]:
    """The generated token ids of each row."""
    start = torch.full((rows,), 2)
    samples = generate(step or bigram_model(), start, END, sampling, forbidden_ids=forbidden)
    return [sample.tokens for sample in samples]


def test_the_same_seed_gives_the_same_reviews_and_another_seed_others():
    sampling = Sampling(temperature=1.0, max_length=30, seed=7)
    first = run(sampling)
    torch.manual_seed(123)  # the global random state plays no part
    assert run(sampling) == first
    assert run(Sampling(temperature=1.0, max_length=30, seed=8)) != first
    assert len({tuple(s) for s in first}) > 1  # rows are sampled independently


def test_top_k_of_one_is_greedy():
    greedy = run(Sampling(temperature=0, max_length=25))
    for seed in range(3):
        assert run(Sampling(temperature=1.5, top_k=1, max_length=25, seed=seed)) == greedy
    assert len({tuple(s) for s in greedy}) == 1  # greedy: every row the same


def test_greedy_takes_the_most_likely_token():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 2.9]])
    generator = torch.Generator().manual_seed(0)
    tokens, log_probability = choose_next(logits, Sampling(temperature=0), generator)
    assert tokens.tolist() == [1, 0]
    assert log_probability.tolist() == [0.0, 0.0]  # greedy is certain of its choice


def test_top_k_keeps_the_k_largest_logits():
    logits = torch.tensor([[0.5, 3.0, -1.0, 2.0]])
    kept = keep_top_k(logits, 2)
    assert torch.isfinite(kept).tolist() == [[False, True, False, True]]
    assert kept[0, 1] == 3.0


@pytest.mark.parametrize(
    ("p", "kept"), [(0.4, 1), (0.5, 1), (0.7, 2), (0.8, 2), (0.81, 3), (0.96, 4), (1.0, 4)]
)
def test_top_p_keeps_the_smallest_set_reaching_p(p, kept):
    probabilities = torch.tensor([0.15, 0.5, 0.05, 0.3])  # sorted: 0.5, 0.3, 0.15, 0.05
    logits = probabilities.log()[None]
    result = keep_nucleus(logits, p)
    assert torch.isfinite(result).sum().item() == kept
    order = [1, 3, 0, 2][:kept]
    assert torch.isfinite(result[0, order]).all()


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([[2.0, 0.0]]).expand(4000, 2)
    share = {}
    for temperature in (0.5, 1.0, 2.0):
        generator = torch.Generator().manual_seed(0)
        chosen, _ = choose_next(logits, Sampling(temperature=temperature), generator)
        share[temperature] = (chosen == 0).float().mean().item()
    for temperature, observed in share.items():
        expected = 1 / (1 + math.exp(-2.0 / temperature))
        assert observed == pytest.approx(expected, abs=0.03)


def test_generation_stops_at_the_end_token_and_at_max_length():
    def step(tokens, count):
        count = 0 if count is None else count + 1
        logits = torch.full((2, VOCAB), -10.0)
        logits[:, 5] = 0.0
        if count == 3:
            logits[0, END] = 10.0  # row 0 ends after three tokens
        return logits, count

    sequences = run(Sampling(temperature=0, max_length=6), rows=2, step=step)
    assert sequences == [[5, 5, 5], [5] * 6]


def test_forbidden_tokens_are_never_chosen():
    sequences = run(Sampling(temperature=3.0, max_length=50, seed=1), forbidden=(0, 1, 4, 5))
    chosen = {token for sequence in sequences for token in sequence}
    assert chosen and not chosen & {0, 1, 4, 5, END}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"temperature": -1}, "temperature must be >= 0"),
        ({"top_k": 0}, "top_k must be a positive integer"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
        ({"max_length": 0}, "max_length must be a positive integer"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        Sampling(**settings)


def teacher_forced_log_probability(tokens: list[int], log_table: torch.Tensor) -> float:
    """log P of ``tokens`` then </s> after <s> (id 2), read from a bigram log-probability table."""
    path = [2, *tokens, END]
    return sum(log_table[a, b].item() for a, b in itertools.pairwise(path))


def test_a_sample_scores_the_log_probability_it_was_drawn_with():
    step = bigram_model()
    logits = step(torch.arange(VOCAB), None)[0].index_fill(1, torch.tensor([0, 1]), -math.inf)
    start = torch.full((6,), 2)
    for temperature in (1.0, 0.7):
        # the distribution sampled from: softmax(logits / T), forbidden tokens cut
        log_table = (logits / temperature).log_softmax(-1)
        sampling = Sampling(temperature=temperature, max_length=60, seed=3)
        samples = generate(step, start, END, sampling, forbidden_ids=(0, 1))
        ended = [s for s in samples if len(s.tokens) < 60]
        assert len(ended) >= 3
        for sample in ended:
            expected = teacher_forced_log_probability(sample.tokens, log_table)
            assert sample.log_probability == pytest.approx(expected, abs=1e-4)
    # with a top-k cut the distribution is renormalised over the k kept tokens
    top_two = Sampling(temperature=1.0, top_k=2, max_length=1, seed=0)
    [sample] = generate(step, start[:1], END, top_two, forbidden_ids=(0, 1))
    kept = logits[2].topk(2).values
    assert sample.log_probability == pytest.approx(
        (logits[2, sample.tokens[0]] - kept.logsumexp(0)).item(), abs=1e-5
    )


def test_params_form_uses_zero_and_one_for_no_cut():
    sampling = Sampling(temperature=0.8, top_k=None, top_p=None, max_length=300, seed=0)
    params = sampling.as_params()
    assert params == {"temperature": 0.8, "top_k": 0, "top_p": 1.0, "max_length": 300, "seed": 0}
    assert Sampling.from_params(**params) == sampling
    cut = Sampling(temperature=1.0, top_k=5, top_p=0.9, max_length=10, seed=2)
    assert Sampling.from_params(**cut.as_params()) == cut
