"""Synthetic per-item test statistics of each headline metric, for the comparison tests: a
better and a worse system are the same generator with another error rate."""

from __future__ import annotations

import numpy as np

SIGNATURE = "nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0"


def correct(rng: np.random.Generator, items: int, rate: float) -> np.ndarray:
    """(right, 1) per item, right with probability ``rate``."""
    hits = (rng.random(items) < rate).astype(float)
    return np.stack([hits, np.ones(items)], axis=1)


def entities(rng: np.random.Generator, items: int, miss: float) -> np.ndarray:
    """(TP, FP, FN) per sentence of 0-3 gold entities, each missed (and a wrong one predicted
    in its place) with probability ``miss``."""
    gold = rng.integers(0, 4, items)
    found = rng.binomial(gold, 1 - miss)
    return np.stack([found, gold - found, gold - found], axis=1).astype(float)


def bits(rng: np.random.Generator, items: int, per_char: float) -> np.ndarray:
    """(bits, characters) per review of 20-80 characters at about ``per_char`` bits each."""
    characters = rng.integers(20, 80, items).astype(float)
    return np.stack([characters * rng.normal(per_char, 0.3, items), characters], axis=1)


def translations(rng: np.random.Generator, items: int) -> tuple[list[str], list[str], list[str]]:
    """References, good hypotheses (one word in six replaced) and broken ones (shuffled)."""
    words = [f"w{i}" for i in range(30)]
    references = [" ".join(rng.choice(words, rng.integers(6, 12))) for _ in range(items)]
    good = [" ".join(w if rng.random() > 1 / 6 else "x" for w in r.split()) for r in references]
    broken = [" ".join(rng.permutation(r.split())) for r in references]
    return references, good, broken
