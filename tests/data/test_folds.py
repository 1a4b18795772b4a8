"""k-fold cross-validation of the reviews (``data.folds``, ``data.fold``): every review is test
data exactly once across the folds, each fold keeps the labels' shares, and a fold's train,
validation and test reviews are apart. DataModules only, no training."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import build_datamodule

from rnnpipe.tracking.provenance import run_tags
from rnnpipe.tracking.seed_groups import GROUP_TAG

FOLDS = 5
ROWS = [(f"Review number {i} was {'good' if i % 3 else 'bad'}.", int(i % 3 > 0)) for i in range(53)]


def splits(path, *overrides: str) -> dict:
    return build_datamodule("sentiment", f"data.path={path}", *overrides).read_splits()


def test_every_review_is_test_data_exactly_once_and_each_fold_is_stratified(write_reviews):
    path = write_reviews(ROWS)
    folds = [splits(path, f"data.folds={FOLDS}", f"data.fold={i}") for i in range(FOLDS)]
    tested = Counter(review.line for fold in folds for review in fold["test"])
    assert sorted(tested) == list(range(2, 2 + len(ROWS))) and set(tested.values()) == {1}

    positives = sum(label for _, label in ROWS)
    for fold in folds:
        lines = {name: {r.line for r in reviews} for name, reviews in fold.items()}
        assert not (lines["train"] & lines["val"] or lines["train"] & lines["test"])
        assert not lines["val"] & lines["test"]
        assert len(lines["train"]) + len(lines["val"]) + len(lines["test"]) == len(ROWS)
        assert abs(len(fold["test"]) - len(ROWS) / FOLDS) < 1
        assert abs(sum(r.label for r in fold["test"]) - positives / FOLDS) < 1
        assert {r.label for r in fold["val"]} == {0, 1}
    # the folds are fixed by data.split_seed, not by the run's seed
    again = splits(path, f"data.folds={FOLDS}", "data.fold=0", "seed=99")
    assert again["test"] == folds[0]["test"]
    assert splits(path, f"data.folds={FOLDS}", "data.fold=0", "data.split_seed=1") != folds[0]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (("data.fold=0",), "data.folds: expected an integer of at least 2 with data.fold set"),
        (("data.folds=5",), "data.fold: expected an integer from 0 to 4 (data.folds=5), got None"),
        (("data.folds=5", "data.fold=5"), "data.fold: expected an integer from 0 to 4"),
        (("data.folds=5", "data.fold=0", "data.test_path=x.tsv"), "data.folds: expected null"),
    ],
)
def test_incomplete_fold_settings_are_refused_naming_the_key(write_reviews, overrides, expected):
    with pytest.raises(ValueError, match="^" + expected.replace("(", r"\(").replace(")", r"\)")):
        splits(write_reviews(ROWS), *overrides)


def test_a_multiruns_jobs_that_differ_only_in_fold_and_seed_are_one_group(compose_config):
    def group(*overrides: str) -> str:
        compose_config(
            "experiment=sentiment", *overrides, "hydra.mode=MULTIRUN", "+hydra.job.num=0"
        )
        return run_tags("sentiment")[GROUP_TAG]

    folds = group("data.folds=5", "data.fold=0", "seed=1")
    assert folds == group("data.folds=5", "data.fold=3", "seed=2")
    assert folds.endswith("experiment=sentiment data.folds=5")
    assert folds != group("data.folds=4", "data.fold=3", "seed=2")
