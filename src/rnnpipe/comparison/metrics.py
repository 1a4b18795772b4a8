"""Headline metrics as scores of summed per-item statistics, ``(R, k) -> (R,)``.

Each is what the task logs as its test metric, computed from sums over the test items, so the
paired bootstrap (:mod:`rnnpipe.comparison.bootstrap`) rescores a resample exactly as the test
scored the whole set:

    accuracy       = right / items                 reviews (right, 1)               ratio
    bits per char  = bits / characters             reviews (bits, characters)       ratio
    entity F1      = 2 TP / (2 TP + FP + FN)       sentences (TP, FP, FN)           entity_f1
                     (conlleval's micro F1: 2PR / (P + R) over the summed counts)

BLEU, from sacreBLEU's n-gram counts, is in :mod:`rnnpipe.comparison.bleu`.
"""

from __future__ import annotations

import numpy as np


def ratio(sums: np.ndarray) -> np.ndarray:
    """``(R, 2)`` -> the first sum over the second: accuracy (right / items), bits per character
    (bits / characters)."""
    return sums[:, 0] / sums[:, 1]


def entity_f1(sums: np.ndarray) -> np.ndarray:
    """``(R, 3)`` of (true positives, false positives, false negatives) -> micro F1 (0 where
    there are no entities at all, as conlleval scores it)."""
    true_positives, false_positives, false_negatives = sums.T
    denominator = 2 * true_positives + false_positives + false_negatives
    return np.divide(
        2 * true_positives, denominator, out=np.zeros(len(sums)), where=denominator > 0
    )
