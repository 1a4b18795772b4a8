"""The CRF against brute force: every tag sequence of a tiny sentence enumerated and scored."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnpipe.layers.crf import LinearChainCRF
from rnnpipe.tasks.ner.model import scheme_constraints

IOB2 = ["O", "B-X", "I-X", "B-Y", "I-Y"]
BIOES = ["O", "B-X", "I-X", "E-X", "S-X"]


def make_crf(labels: list[str], scheme: str | None, seed: int = 0) -> LinearChainCRF:
    """A CRF with random scores; ``scheme=None``: every move allowed."""
    if scheme is None:
        n = len(labels)
        crf = LinearChainCRF(torch.ones(n, n), torch.ones(n), torch.ones(n))
    else:
        crf = LinearChainCRF(*scheme_constraints(labels, scheme))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return crf


@torch.no_grad()
def brute_force(crf: LinearChainCRF, emissions: torch.Tensor, length: int):
    """(log Z, best path, score of every allowed path) for one sentence, by enumeration."""
    num_tags = emissions.shape[-1]
    scores = {}
    for path in itertools.product(range(num_tags), repeat=length):
        allowed = bool(crf.allowed_start[path[0]]) and bool(crf.allowed_end[path[-1]])
        allowed &= all(bool(crf.allowed[a, b]) for a, b in itertools.pairwise(path))
        if not allowed:
            continue
        score = crf.start[path[0]] + crf.end[path[-1]]
        score = score + sum(emissions[t, tag] for t, tag in enumerate(path))
        score = score + sum(crf.transitions[a, b] for a, b in itertools.pairwise(path))
        scores[path] = score
    log_z = torch.logsumexp(torch.stack(list(scores.values())), 0)
    best = max(scores, key=lambda p: float(scores[p]))
    return log_z, list(best), scores


@pytest.mark.parametrize(("labels", "scheme"), [(IOB2, "IOB2"), (BIOES, "BIOES"), (IOB2, None)])
@torch.no_grad()
def test_loss_and_viterbi_match_enumeration(labels, scheme):
    crf = make_crf(labels, scheme)
    lengths = [4, 1, 3]
    emissions = torch.randn(
        len(lengths), 4, len(labels), generator=torch.Generator().manual_seed(1)
    )
    mask = torch.arange(4)[None, :] < torch.tensor(lengths)[:, None]
    decoded = crf.decode(emissions, mask)
    log_z = crf.log_partition(emissions, mask)
    for row, length in enumerate(lengths):
        expected_log_z, best, scores = brute_force(crf, emissions[row], length)
        assert float(log_z[row]) == pytest.approx(float(expected_log_z), abs=1e-5)
        assert decoded[row] == best
        # the negative log-likelihood of any allowed path is log Z minus its score
        path = list(next(iter(scores)))
        tags = torch.zeros(len(lengths), 4, dtype=torch.long)
        tags[row, :length] = torch.tensor(path)
        nll = crf(emissions, tags, mask)[row]
        assert float(nll) == pytest.approx(float(expected_log_z - scores[tuple(path)]), abs=1e-5)


@torch.no_grad()
def test_probabilities_of_all_allowed_paths_sum_to_one():
    crf = make_crf(BIOES, "BIOES", seed=3)
    emissions = torch.randn(1, 3, len(BIOES))
    mask = torch.ones(1, 3, dtype=torch.bool)
    _, _, scores = brute_force(crf, emissions[0], 3)
    total = 0.0
    for path in scores:
        nll = crf(emissions, torch.tensor([path]), mask)
        total += float(torch.exp(-nll))
    assert total == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(("labels", "scheme"), [(IOB2, "IOB2"), (BIOES, "BIOES")])
def test_forbidden_transitions_are_never_decoded(labels, scheme):
    crf = make_crf(labels, scheme)
    # emissions that shout for a forbidden sequence: I-X right after O, at the start too
    emissions = torch.full((2, 3, len(labels)), -5.0)
    emissions[0, 0, labels.index("O")] = 10.0
    emissions[0, 1:, labels.index("I-X")] = 10.0
    emissions[1, :, labels.index("I-X")] = 10.0
    mask = torch.ones(2, 3, dtype=torch.bool)
    for path in crf.decode(emissions, mask):
        tags = [labels[i] for i in path]
        assert bool(crf.allowed_start[path[0]]) and bool(crf.allowed_end[path[-1]]), tags
        assert all(bool(crf.allowed[a, b]) for a, b in itertools.pairwise(path)), tags


def test_padding_does_not_change_loss_or_gradients():
    crf = make_crf(BIOES, "BIOES")
    emissions = torch.randn(1, 2, len(BIOES), requires_grad=True)
    tags = torch.tensor([[BIOES.index("B-X"), BIOES.index("E-X")]])
    alone = crf(emissions, tags, torch.ones(1, 2, dtype=torch.bool))
    # the same sentence padded with garbage emissions and a tag (B-X) that may not follow E-X
    padded = torch.cat([emissions, torch.randn(1, 2, len(BIOES)) * 100], 1)
    padded_tags = torch.cat([tags, torch.full((1, 2), BIOES.index("B-X"))], 1)
    mask = torch.tensor([[True, True, False, False]])
    with_padding = crf(padded, padded_tags, mask)
    assert torch.isfinite(with_padding).all()
    assert float(with_padding.detach()) == pytest.approx(float(alone.detach()), abs=1e-5)
    (grad_alone,) = torch.autograd.grad(alone.sum(), emissions)
    (grad_padded,) = torch.autograd.grad(with_padding.sum(), emissions)
    assert torch.allclose(grad_alone, grad_padded, atol=1e-6)
    for parameter in crf.parameters():
        (gradient,) = torch.autograd.grad(crf(padded, padded_tags, mask).sum(), parameter)
        assert torch.isfinite(gradient).all()


def test_shape_errors_are_reported():
    with pytest.raises(ValueError, match=r"allowed must be \(C, C\)"):
        LinearChainCRF(torch.ones(3, 2), torch.ones(3), torch.ones(3))


@pytest.mark.parametrize(("labels", "scheme"), [(IOB2, "IOB2"), (BIOES, "BIOES"), (IOB2, None)])
@torch.no_grad()
def test_marginals_match_enumeration_and_sum_to_one(labels, scheme):
    crf = make_crf(labels, scheme, seed=2)
    lengths = [4, 1, 3]
    emissions = torch.randn(
        len(lengths), 4, len(labels), generator=torch.Generator().manual_seed(3)
    )
    mask = torch.arange(4)[None, :] < torch.tensor(lengths)[:, None]
    marginals = crf.marginals(emissions, mask)
    for row, length in enumerate(lengths):
        log_z, _, scores = brute_force(crf, emissions[row], length)
        # P(y_t = j | x): the probability of every allowed path with tag j at step t, summed
        expected = torch.zeros(length, len(labels))
        for path, score in scores.items():
            for t, tag in enumerate(path):
                expected[t, tag] += (score - log_z).exp()
        torch.testing.assert_close(marginals[row, :length], expected)
        torch.testing.assert_close(marginals[row, :length].sum(-1), torch.ones(length))
        assert (marginals[row, length:] == 0).all()  # padding
    if scheme is not None:  # a tag the scheme forbids at the start has probability 0 there
        assert (marginals[:, 0, ~crf.allowed_start] == 0).all()
