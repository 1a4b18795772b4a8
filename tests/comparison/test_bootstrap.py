"""The paired bootstrap's statistics, with fixed seeds: a real difference is found, no
difference is p = 1, and the test's false-positive rate under the null is near 5 %."""

from __future__ import annotations

import numpy as np
import pytest

from rnnpipe.comparison.bootstrap import accuracy, paired_bootstrap


def correct(rng: np.random.Generator, items: int, rate: float) -> np.ndarray:
    return (rng.random((items, 1)) < rate).astype(float)


def test_a_model_against_a_broken_one_is_significant():
    rng = np.random.default_rng(0)
    good, broken = correct(rng, 300, 0.8), correct(rng, 300, 0.5)
    result = paired_bootstrap(broken, good, accuracy, resamples=1000, seed=1)
    assert result.difference == pytest.approx(good.mean() - broken.mean())
    assert result.p_value < 0.05 and result.ci_low > 0 < result.ci_high


def test_a_model_against_itself_differs_by_zero_with_p_one():
    rng = np.random.default_rng(0)
    same = correct(rng, 200, 0.7)
    result = paired_bootstrap(same, same.copy(), accuracy, resamples=1000, seed=1)
    assert result.difference == 0 and result.p_value == 1.0
    assert result.ci_low == result.ci_high == 0


def test_under_the_null_p_below_005_comes_out_at_about_the_nominal_rate():
    rng = np.random.default_rng(42)
    significant = 0
    for trial in range(100):
        # two systems that are the same in distribution: each item's pair of predictions
        # is swapped between the sides at random
        one, other = correct(rng, 120, 0.75), correct(rng, 120, 0.75)
        swap = rng.random((120, 1)) < 0.5
        side_a, side_b = np.where(swap, other, one), np.where(swap, one, other)
        result = paired_bootstrap(side_a, side_b, accuracy, resamples=1000, seed=trial)
        significant += result.p_value < 0.05
    assert 1 <= significant <= 12


def test_fewer_than_1000_resamples_or_unpaired_items_are_refused():
    items = np.ones((10, 1))
    with pytest.raises(ValueError, match="at least 1000"):
        paired_bootstrap(items, items, accuracy, resamples=999, seed=0)
    with pytest.raises(ValueError, match="the same items"):
        paired_bootstrap(items, np.ones((9, 1)), accuracy, resamples=1000, seed=0)
