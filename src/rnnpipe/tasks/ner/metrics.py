"""Entity-level precision, recall and F1, counted exactly as conlleval counts them.

conlleval walks the gold and predicted tags side by side. A predicted chunk is correct when it
starts at the same token as a gold chunk, with the same type, and both end at the same token.

    precision = correct chunks / predicted chunks      recall = correct chunks / gold chunks
    F1 = 2 * precision * recall / (precision + recall)                (0 when both are 0)

micro-averaged over all chunks, and per entity type. Token accuracy is the share of tokens
whose predicted tag equals the gold tag. Scores here are fractions (conlleval prints percent).
The reader drops ``-DOCSTART-`` lines, which conlleval would count as correctly tagged ``O``
tokens: chunk counts are the same, token accuracy slightly lower.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torchmetrics import Metric

from rnnpipe.tasks.ner.schemes import OUTSIDE, chunk_ends, chunk_starts, split_tag


@dataclass
class ChunkCounts:
    """conlleval's counters: chunks per type (correct, predicted, gold) and tokens."""

    correct: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    gold: Counter[str] = field(default_factory=Counter)
    correct_tokens: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    correct: int
    predicted: int
    gold: int


def count_chunks(
    gold_tags: Sequence[str], predicted_tags: Sequence[str], counts: ChunkCounts | None = None
) -> ChunkCounts:
    """Add one sentence to ``counts`` (new counters if None), following conlleval's loop."""
    if len(gold_tags) != len(predicted_tags):
        raise ValueError(
            f"gold and predicted tags must be as long, got {len(gold_tags)} and "
            f"{len(predicted_tags)}"
        )
    counts = counts if counts is not None else ChunkCounts()
    in_correct = False  # inside a predicted chunk that so far matches a gold chunk
    last_gold = last_predicted = OUTSIDE
    # the sentence boundary after the last token is an "O O" step that counts no token
    for position, (gold, predicted) in enumerate(
        [*zip(gold_tags, predicted_tags, strict=True), ("O", "O")]
    ):
        gold_type, predicted_type = split_tag(gold)[1], split_tag(predicted)[1]
        gold_ends = chunk_ends(last_gold, gold)
        predicted_ends = chunk_ends(last_predicted, predicted)
        if in_correct:
            if (
                gold_ends
                and predicted_ends
                and split_tag(last_gold)[1] == split_tag(last_predicted)[1]
            ):
                in_correct = False
                counts.correct[split_tag(last_gold)[1]] += 1
            elif gold_ends != predicted_ends or gold_type != predicted_type:
                in_correct = False
        gold_starts = chunk_starts(last_gold, gold)
        predicted_starts = chunk_starts(last_predicted, predicted)
        if gold_starts and predicted_starts and gold_type == predicted_type:
            in_correct = True
        if gold_starts:
            counts.gold[gold_type] += 1
        if predicted_starts:
            counts.predicted[predicted_type] += 1
        if position < len(gold_tags):
            counts.correct_tokens += gold == predicted
            counts.tokens += 1
        last_gold, last_predicted = gold, predicted
    return counts


def scores(correct: int, predicted: int, gold: int) -> Scores:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, correct, predicted, gold)


def micro_scores(counts: ChunkCounts) -> Scores:
    return scores(
        sum(counts.correct.values()), sum(counts.predicted.values()), sum(counts.gold.values())
    )


def scores_by_type(counts: ChunkCounts) -> dict[str, Scores]:
    """One row per entity type found in the gold or the predicted tags, sorted by type."""
    types = sorted(set(counts.gold) | set(counts.predicted))
    return {t: scores(counts.correct[t], counts.predicted[t], counts.gold[t]) for t in types}


class EntityScores(Metric):
    """conlleval's counts as a torchmetrics ``Metric``: summed over batches (and processes).

    ``update(gold, predicted)`` takes tag strings per sentence; ``compute()`` gives the micro
    ``precision``, ``recall``, ``f1`` and the token accuracy ``acc``; ``counts()`` the counters
    for a per-type table.
    """

    full_state_update = False

    def __init__(self, types: Sequence[str]):
        super().__init__()
        self.types = sorted(types)
        for name in ("correct", "predicted", "gold"):
            self.add_state(name, torch.zeros(len(self.types), dtype=torch.long), "sum")
        self.add_state("correct_tokens", torch.tensor(0), "sum")
        self.add_state("tokens", torch.tensor(0), "sum")

    def update(self, gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> None:
        counts = ChunkCounts()
        for gold_tags, predicted_tags in zip(gold, predicted, strict=True):
            count_chunks(gold_tags, predicted_tags, counts)
        for name in ("correct", "predicted", "gold"):
            counter = getattr(counts, name)
            unknown = set(counter) - set(self.types)
            if unknown:
                raise ValueError(f"entity types {sorted(unknown)} are not in {self.types}")
            state = getattr(self, name)
            state += torch.tensor([counter[t] for t in self.types], device=state.device)
        self.correct_tokens += counts.correct_tokens
        self.tokens += counts.tokens

    def counts(self) -> ChunkCounts:
        def counter(state: torch.Tensor) -> Counter[str]:
            return Counter({t: int(n) for t, n in zip(self.types, state.tolist(), strict=True)})

        return ChunkCounts(
            counter(self.correct),
            counter(self.predicted),
            counter(self.gold),
            int(self.correct_tokens),
            int(self.tokens),
        )

    def compute(self) -> dict[str, torch.Tensor]:
        micro = micro_scores(self.counts())
        accuracy = int(self.correct_tokens) / int(self.tokens) if int(self.tokens) else 0.0
        return {
            "precision": torch.tensor(micro.precision),
            "recall": torch.tensor(micro.recall),
            "f1": torch.tensor(micro.f1),
            "acc": torch.tensor(accuracy),
        }
