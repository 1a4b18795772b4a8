"""Paired bootstrap resampling over test items (Koehn 2004; Efron & Tibshirani 1993).

Two systems A and B are scored on the same N items. Each item carries a few sufficient
statistics (right or not; an entity's true and false positives; a sentence's BLEU n-gram
counts; a review's bits and characters), and a metric scores their sum over the items: every
headline metric rnnpipe compares is "sum, then score", so corpus-level scores (entity F1, BLEU,
bits per character) are recomputed on each resample, never averaged over items. One resample
draws N item indices with replacement and scores both systems on those same items, so what the
items have in common (an easy review is easy for both) cancels out of the difference

    d* = metric_B(resample) - metric_A(resample)

Over R seeded resamples, the 95 % interval of the difference is the 2.5th to 97.5th percentile
of d*. The p-value is the two-sided test of "no difference" by the shifted bootstrap: how often
a resampled difference lies at least |d| away from the observed d,

    p = (1 + #{ |d*_r - d| >= |d| }) / (R + 1)

so a system against itself (d = 0, every d* = 0) gets p = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Metric = Callable[[np.ndarray], np.ndarray]  # summed statistics (R, k) -> scores (R,)


@dataclass(frozen=True)
class Comparison:
    a: float  # the metric of A on all items
    b: float
    difference: float  # b - a
    ci_low: float
    ci_high: float
    p_value: float
    resamples: int
    resampled_differences: np.ndarray


def paired_bootstrap(
    stats_a: np.ndarray, stats_b: np.ndarray, metric: Metric, resamples: int, seed: int
) -> Comparison:
    """``stats_a``, ``stats_b``: each item's sufficient statistics ``(N, k)``, rows paired by
    item; ``metric`` scores a batch of their sums over items ``(R, k) -> (R,)``."""
    if stats_a.shape != stats_b.shape:
        raise ValueError(
            f"expected the same items on both sides, got {stats_a.shape} and {stats_b.shape}"
        )
    if resamples < 1000:
        raise ValueError(f"resamples: expected at least 1000, got {resamples}")
    items = len(stats_a)
    a, b = (float(metric(stats.sum(0, keepdims=True))[0]) for stats in (stats_a, stats_b))
    generator = np.random.default_rng(seed)
    differences = np.empty(resamples)
    for start in range(0, resamples, 250):  # bounded memory: 250 resamples at a time
        count = min(250, resamples - start)
        rows = generator.integers(0, items, size=(count, items))
        sums_a, sums_b = stats_a[rows].sum(1), stats_b[rows].sum(1)  # (count, k)
        differences[start : start + count] = metric(sums_b) - metric(sums_a)
    difference = b - a
    extreme = np.abs(differences - difference) >= abs(difference) - 1e-12
    low, high = np.percentile(differences, [2.5, 97.5])
    return Comparison(
        a=a, b=b, difference=difference, ci_low=float(low), ci_high=float(high),
        p_value=float((1 + extreme.sum()) / (resamples + 1)), resamples=resamples,
        resampled_differences=differences,
    )  # fmt: skip
