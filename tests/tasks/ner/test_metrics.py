"""conlleval's entity counting: hand-made cases with known answers, and seqeval as a referee."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics import f1_score, precision_score, recall_score

from rnnpipe.tasks.ner.metrics import (
    ChunkCounts,
    EntityScores,
    count_chunks,
    micro_scores,
    scores_by_type,
)


def counted(gold: list[list[str]], predicted: list[list[str]]) -> ChunkCounts:
    counts = ChunkCounts()
    for g, p in zip(gold, predicted, strict=True):
        count_chunks(g, p, counts)
    return counts


@pytest.mark.parametrize(
    ("gold", "predicted", "correct", "n_predicted", "n_gold", "correct_tokens"),
    [
        # one chunk right, one with the wrong type
        ("B-PER I-PER O B-LOC", "B-PER I-PER O B-ORG", 1, 2, 2, 3),
        # conlleval reads I-X after O as the start of a chunk: same chunk as B-X I-X
        ("B-PER I-PER O", "I-PER I-PER O", 1, 1, 1, 2),
        # a chunk cut short is wrong, and so is one that runs on
        ("B-PER I-PER O", "B-PER O O", 0, 1, 1, 2),
        ("B-PER O O", "B-PER I-PER O", 0, 1, 1, 2),
        # B-X B-X is two chunks
        ("B-PER I-PER", "B-PER B-PER", 0, 2, 1, 1),
        # a type change inside I- ends one chunk and starts another
        ("B-PER I-LOC", "B-PER B-LOC", 2, 2, 2, 1),
        # BIOES: E ends, S is one token; the same chunks in IOB2 tags match
        ("B-ORG E-ORG S-LOC O", "B-ORG I-ORG B-LOC O", 2, 2, 2, 2),
        # nothing predicted, nothing gold
        ("O O", "O O", 0, 0, 0, 2),
    ],
)
def test_hand_made_cases(gold, predicted, correct, n_predicted, n_gold, correct_tokens):
    counts = count_chunks(gold.split(), predicted.split())
    assert sum(counts.correct.values()) == correct
    assert sum(counts.predicted.values()) == n_predicted
    assert sum(counts.gold.values()) == n_gold
    assert counts.correct_tokens == correct_tokens
    assert counts.tokens == len(gold.split())


def test_scores_of_a_small_corpus():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"], ["O", "B-MISC"]]
    predicted = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "B-LOC"], ["O", "O"]]
    counts = counted(gold, predicted)
    micro = micro_scores(counts)
    # correct: PER, LOC, ORG = 3; predicted 4; gold 4
    assert (micro.correct, micro.predicted, micro.gold) == (3, 4, 4)
    assert micro.precision == pytest.approx(0.75)
    assert micro.recall == pytest.approx(0.75)
    assert micro.f1 == pytest.approx(0.75)
    by_type = scores_by_type(counts)
    assert list(by_type) == ["LOC", "MISC", "ORG", "PER"]
    assert by_type["LOC"].precision == 0.5 and by_type["LOC"].recall == 1.0
    assert by_type["LOC"].f1 == pytest.approx(2 / 3)
    assert by_type["MISC"].f1 == 0.0 and by_type["MISC"].gold == 1
    assert by_type["PER"].f1 == 1.0
    assert counts.correct_tokens == 6 and counts.tokens == 8


def test_sequences_must_be_as_long():
    with pytest.raises(ValueError, match="as long"):
        count_chunks(["O", "B-PER"], ["O"])


def random_tags(rng: random.Random, length: int, prefixes: str, types=("PER", "LOC", "ORG")):
    """Any mix of prefixes, well-formed or not: conlleval (and seqeval) read them all."""
    return [
        "O" if rng.random() < 0.4 else f"{rng.choice(prefixes)}-{rng.choice(types)}"
        for _ in range(length)
    ]


@pytest.mark.parametrize("prefixes", ["BI", "BIES"])
def test_agrees_with_seqeval_on_random_sequences(prefixes):
    """seqeval's default mode reproduces conlleval; so must we, malformed sequences included."""
    rng = random.Random(7)
    for _ in range(40):
        lengths = [rng.randint(1, 12) for _ in range(rng.randint(1, 6))]
        gold = [random_tags(rng, n, prefixes) for n in lengths]
        predicted = [random_tags(rng, n, prefixes) for n in lengths]
        micro = micro_scores(counted(gold, predicted))
        assert micro.precision == pytest.approx(precision_score(gold, predicted, zero_division=0))
        assert micro.recall == pytest.approx(recall_score(gold, predicted, zero_division=0))
        assert micro.f1 == pytest.approx(f1_score(gold, predicted, zero_division=0))


def test_metric_sums_batches_like_one_pass():
    gold = [["B-PER", "I-PER", "O"], ["B-LOC"], ["O", "B-ORG", "I-ORG"]]
    predicted = [["B-PER", "I-PER", "O"], ["B-ORG"], ["O", "B-ORG", "I-ORG"]]
    metric = EntityScores(["LOC", "ORG", "PER"])
    metric.update(gold[:2], predicted[:2])
    metric.update(gold[2:], predicted[2:])
    result = metric.compute()
    expected = micro_scores(counted(gold, predicted))
    assert float(result["f1"]) == pytest.approx(expected.f1)
    assert float(result["precision"]) == pytest.approx(2 / 3)
    assert float(result["acc"]) == pytest.approx(6 / 7)
    assert metric.counts().gold == {"LOC": 1, "ORG": 1, "PER": 1}
    with pytest.raises(ValueError, match=r"entity types \['DATE'\]"):
        metric.update([["B-DATE"]], [["O"]])
