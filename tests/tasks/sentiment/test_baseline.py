"""The TF-IDF + logistic-regression baseline agrees with a hand count on reviews written here,
and is scored on the DataModule's own splits, each fold's too."""

from __future__ import annotations

from conftest import build_datamodule, composed
from hydra.utils import instantiate

# "good" and "bad" are the only words the test reviews share with training, so the baseline
# reads "good ..." as positive and "bad ..." as negative; one test review is labelled against it
TRAIN = [(f"good {word}", 1) for word in ["food", "service", "place", "staff", "wine"]] + [
    (f"bad {word}", 0) for word in ["food", "service", "place", "staff", "wine"]
]
TEST = [("good soup", 1), ("bad soup", 0), ("good bread", 0), ("bad bread", 0)]


def test_accuracy_and_macro_f1_are_the_hand_counted_ones(write_reviews):
    datamodule = build_datamodule(
        "sentiment",
        f"data.path={write_reviews(TRAIN)}",
        f"data.test_path={write_reviews(TEST, 'test.tsv')}",
        "data.val_fraction=0.2",
    )
    datamodule.setup("fit")
    scored = instantiate(composed("experiment=sentiment", config_name="baseline").baseline).score(
        datamodule
    )

    # predicted 1 0 1 0 against 1 0 0 0: 3 of 4 right; F1 positive 2/3 (P 1/2, R 1),
    # negative 4/5 (P 1, R 2/3), macro their mean; the val reviews follow the rule: all right
    assert scored.metrics["test/acc"] == 0.75
    assert abs(scored.metrics["test/f1"] - (2 / 3 + 4 / 5) / 2) < 1e-6
    assert scored.metrics["val/acc"] == 1.0
    table = scored.reports["predictions/test_predictions.tsv"]
    assert list(table.columns) == ["line", "text", "label", "predicted", "probability"]
    assert table["predicted"].tolist() == ["positive", "negative", "positive", "negative"]
    assert table["line"].tolist() == [2, 3, 4, 5]  # each review's line in the test file


def test_the_folds_test_every_review_once_with_the_datamodules_own_splits(write_reviews):
    path = write_reviews([*TRAIN, ("good soup", 1), ("good bread", 1), ("bad soup", 0)])
    baseline = instantiate(composed("experiment=sentiment", config_name="baseline").baseline)
    tested = []
    for fold in (0, 1):
        datamodule = build_datamodule(
            "sentiment", f"data.path={path}", "data.folds=2", f"data.fold={fold}"
        )
        datamodule.setup("fit")
        table = baseline.score(datamodule).reports["predictions/test_predictions.tsv"]
        assert table["line"].tolist() == [r.line for r in datamodule.splits["test"]]
        tested += table["line"].tolist()
    assert sorted(tested) == list(range(2, 15))  # the 13 reviews, each in one fold's test
