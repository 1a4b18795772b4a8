"""Seeded, stratified train/validation/test splits, and stratified k folds."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence


def stratified_split(
    labels: Sequence[int], val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[int], list[int], list[int]]:
    """Split example indices so each label keeps its share in every part.

    Each label's indices are shuffled with ``seed`` and cut into test, validation and train parts
    (sizes rounded per label). The same labels, fractions and seed give the same split.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            "val_fraction and test_fraction must be in [0, 1) and sum to less than 1, "
            f"got {val_fraction} and {test_fraction}"
        )
    by_label: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    rng = random.Random(seed)
    train, val, test = [], [], []
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        n_test = round(len(indices) * test_fraction)
        n_val = round(len(indices) * val_fraction)
        test += indices[:n_test]
        val += indices[n_test : n_test + n_val]
        train += indices[n_test + n_val :]
    return sorted(train), sorted(val), sorted(test)


def stratified_folds(labels: Sequence[int], folds: int, seed: int) -> list[list[int]]:
    """Deal example indices into ``folds`` parts so each label keeps its share in every part.

    Each label's indices are shuffled with ``seed`` and dealt round-robin, one label after the
    other without restarting the deal, so the parts' sizes differ by at most one and so do each
    label's counts in them. Every index is in exactly one part.
    """
    if folds < 2 or folds > len(labels):
        raise ValueError(f"folds must be from 2 to the number of examples, got {folds}")
    by_label: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    rng = random.Random(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    dealt = 0
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        for index in indices:
            parts[dealt % folds].append(index)
            dealt += 1
    return [sorted(part) for part in parts]
