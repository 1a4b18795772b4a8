"""The paired bootstrap's statistics, with fixed seeds, on synthetic per-item tables of every
headline metric: a real difference is found, no difference is p = 1, and the test's
false-positive rate under the null is near 5 %."""

from __future__ import annotations

import numpy as np
import pytest
from sacrebleu.metrics import BLEU
from synthetic_items import SIGNATURE, bits, correct, entities, translations

from rnnpipe.comparison import bleu
from rnnpipe.comparison.bootstrap import paired_bootstrap
from rnnpipe.comparison.metrics import entity_f1, ratio

# per metric: the score of summed statistics, (broken, good) per-item tables, higher is better
SYSTEMS = {
    "accuracy": (ratio, lambda rng: (correct(rng, 300, 0.5), correct(rng, 300, 0.8)), True),
    "entity F1": (entity_f1, lambda rng: (entities(rng, 200, 0.5), entities(rng, 200, 0.2)), True),
    "bits per char": (ratio, lambda rng: (bits(rng, 100, 2.4), bits(rng, 100, 2.2)), False),
}


@pytest.mark.parametrize("name", SYSTEMS)
def test_a_model_against_a_broken_one_is_significant(name):
    score, make, higher_is_better = SYSTEMS[name]
    broken, good = make(np.random.default_rng(0))
    result = paired_bootstrap(broken, good, score, resamples=1000, seed=1)
    whole = score(np.stack([good.sum(0), broken.sum(0)]))
    assert result.difference == pytest.approx(whole[0] - whole[1])
    assert result.p_value < 0.05
    better = 1 if higher_is_better else -1
    assert better * result.ci_low > 0 and better * result.ci_high > 0


@pytest.mark.parametrize("name", SYSTEMS)
def test_a_model_against_itself_differs_by_zero_with_p_one(name):
    score, make, _ = SYSTEMS[name]
    _, same = make(np.random.default_rng(0))
    result = paired_bootstrap(same, same.copy(), score, resamples=1000, seed=1)
    assert result.difference == 0 and result.p_value == 1.0
    assert result.ci_low == result.ci_high == 0


def test_bleu_of_summed_sentence_statistics_is_sacrebleus_corpus_bleu_and_its_test_agrees():
    references, good, broken = translations(np.random.default_rng(0), 80)
    stats = {name: bleu.sentence_statistics(hypotheses, references, SIGNATURE)
             for name, hypotheses in (("good", good), ("broken", broken))}  # fmt: skip
    corpus = BLEU(lowercase=True).corpus_score(good, [references]).score
    assert bleu.bleu(stats["good"].sum(0, keepdims=True))[0] == pytest.approx(corpus)

    result = paired_bootstrap(stats["broken"], stats["good"], bleu.bleu, resamples=1000, seed=1)
    assert result.ci_low > 0
    assert bleu.sacrebleu_paired_p(broken, good, references, SIGNATURE, 1000, seed=1) < 0.05

    itself = paired_bootstrap(stats["good"], stats["good"], bleu.bleu, resamples=1000, seed=1)
    assert itself.difference == 0 and itself.p_value == 1.0
    assert bleu.sacrebleu_paired_p(good, list(good), references, SIGNATURE, 1000, seed=1) == 1.0


def test_under_the_null_p_below_005_comes_out_at_about_the_nominal_rate():
    rng = np.random.default_rng(42)
    significant = 0
    for trial in range(100):
        # two systems that are the same in distribution: each item's pair of predictions
        # is swapped between the sides at random
        one, other = correct(rng, 120, 0.75), correct(rng, 120, 0.75)
        swap = rng.random((120, 1)) < 0.5
        side_a, side_b = np.where(swap, other, one), np.where(swap, one, other)
        result = paired_bootstrap(side_a, side_b, ratio, resamples=1000, seed=trial)
        significant += result.p_value < 0.05
    assert 1 <= significant <= 12


def test_fewer_than_1000_resamples_or_unpaired_items_are_refused():
    items = np.ones((10, 2))
    with pytest.raises(ValueError, match="at least 1000"):
        paired_bootstrap(items, items, ratio, resamples=999, seed=0)
    with pytest.raises(ValueError, match="the same items"):
        paired_bootstrap(items, np.ones((9, 2)), ratio, resamples=1000, seed=0)
