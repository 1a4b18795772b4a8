"""How far generated reviews read as what they were written for, by a trained sentiment model.

After a generator's test, a sentiment classifier (``scorer_uri``: a checkpoint or an MLflow
model) labels the generated reviews and the real test reviews. The run then records, for each
label, the fraction of that label's reviews the classifier calls by that label:

    test/classifier_agreement_<label>, test/classifier_agreement         generated reviews
    test/classifier_agreement_real_<label>, test/classifier_agreement_real   real test reviews

The second is what the classifier itself gets right: how far the first can be trusted. This
runs outside the generator's LightningModule, which knows nothing of MLflow models.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rnnpipe.errors import RnnpipeError
from rnnpipe.tracking.loading import load_models

METRIC = "test/classifier_agreement"


def classify(scorer: Any, reviews: list[str]) -> list[str]:
    """The label the scorer gives each review; an empty review gets none (``""``), so it
    counts as a miss."""
    written = [review for review in reviews if review.strip()]
    called = iter(scorer.predict_texts(written)["label"].tolist() if written else [])
    return [next(called) if review.strip() else "" for review in reviews]


def agreement(name: str, reviews: pd.DataFrame, labels: list[str]) -> dict[str, float]:
    """``<name>_<label>``: the fraction of the label's reviews called by that label;
    ``<name>``: the fraction over all reviews."""
    right = reviews["classifier_label"] == reviews["label"]
    scores = {f"{name}_{label}": float(right[reviews["label"] == label].mean()) for label in labels}
    return scores | {name: float(right.mean())}


def score_generated_reviews(
    generator: Any, scorer_uri: str, tracking_uri: str | None
) -> dict[str, float]:
    """Label the generator's last test ``samples`` (adding their ``classifier_label``) and its
    real ``test_reviews`` with the classifier at ``scorer_uri``; the agreement metrics."""
    scorer = load_models(scorer_uri, tracking_uri)
    labels = list(generator.hparams["labels"])
    if "label" not in scorer.output_columns or set(scorer.hparams.get("labels", [])) != set(labels):
        raise RnnpipeError(
            f"{scorer_uri}: expected a sentiment model with the labels {labels}, got a "
            f"{type(scorer).__name__} with outputs {list(scorer.output_columns)}"
        )
    samples = generator.samples
    real = pd.DataFrame(generator.test_reviews, columns=["label", "review"])
    called = classify(scorer, samples["review"].tolist() + real["review"].tolist())
    samples["classifier_label"] = called[: len(samples)]
    real["classifier_label"] = called[len(samples) :]
    return agreement(METRIC, samples, labels) | agreement(f"{METRIC}_real", real, labels)
