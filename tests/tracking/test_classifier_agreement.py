"""A sentiment model reading generated reviews: every written review is read, empty ones miss,
and a model that is not a sentiment classifier is refused."""

from __future__ import annotations

import pandas as pd
import pytest

from rnnpipe.errors import RnnpipeError
from rnnpipe.tracking import classifier_agreement
from rnnpipe.tracking.classifier_agreement import agreement, classify


class FakeScorer:
    """Calls every review mentioning 'great' positive, everything else negative."""

    output_columns = ("label", "probability")

    def __init__(self, labels=("negative", "positive")):
        self.hparams = {"labels": list(labels)}
        self.seen = []

    def predict_texts(self, texts):
        self.seen += texts
        return pd.DataFrame({"label": ["positive" if "great" in t else "negative" for t in texts]})


def test_the_classifier_reads_every_written_review_and_empty_ones_are_misses():
    scorer = FakeScorer()
    assert classify(scorer, ["great food", " ", "cold soup", ""]) == [
        "positive",
        "",
        "negative",
        "",
    ]
    assert scorer.seen == ["great food", "cold soup"]


def test_agreement_is_the_fraction_called_by_its_own_label():
    reviews = pd.DataFrame(
        {
            "label": ["positive", "positive", "negative", "negative"],
            "classifier_label": ["positive", "negative", "negative", ""],
        }
    )
    assert agreement("m", reviews, ["negative", "positive"]) == {
        "m_negative": 0.5,
        "m_positive": 0.5,
        "m": 0.5,
    }


def test_a_scorer_with_other_labels_is_refused(monkeypatch):
    scorer = FakeScorer(labels=("O", "B-PER"))
    monkeypatch.setattr(classifier_agreement, "load_models", lambda uri, tracking_uri: scorer)
    generator = type("Generator", (), {"hparams": {"labels": ["negative", "positive"]}})()
    with pytest.raises(RnnpipeError, match="expected a sentiment model with the labels"):
        classifier_agreement.score_generated_reviews(generator, "models:/rnnpipe-ner/1", None)
