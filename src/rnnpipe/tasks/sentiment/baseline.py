"""The bag-of-words baseline of sentiment: TF-IDF features and logistic regression (scikit-learn).

Fitted on the DataModule's train split (the reviews as the RNN reads them, cut to
``max_tokens``), scored on its val and test splits by the sentiment scorer
(:func:`~rnnpipe.tasks.sentiment.model.classification_metrics`), and its test predictions
written as the RNN's are (``predictions/test_predictions.tsv``), so ``rnnpipe-compare`` pairs
the two review by review. Lowercasing follows the data config's ``lowercase``.
"""

from __future__ import annotations

import pandas as pd
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from rnnpipe.data.reviews import LABEL_NAMES, Review
from rnnpipe.tasks.sentiment.data import SentimentDataModule
from rnnpipe.tasks.sentiment.model import classification_metrics, prediction_records
from rnnpipe.training.baseline import BaselineScores


class TfidfLogisticRegression:
    """TF-IDF over word n-grams up to ``max_ngram`` (seen in at least ``min_df`` train
    reviews; ``sublinear_tf``: 1 + log of the count), then L2-regularised logistic regression
    with inverse strength ``C``."""

    method = "TF-IDF + logistic regression (scikit-learn)"

    def __init__(self, max_ngram: int, min_df: int, sublinear_tf: bool, C: float, max_iter: int):
        self.max_ngram, self.min_df, self.sublinear_tf = max_ngram, min_df, sublinear_tf
        self.C, self.max_iter = C, max_iter

    def fit(self, train: list[Review], lowercase: bool) -> Pipeline:
        features = TfidfVectorizer(
            lowercase=lowercase,
            ngram_range=(1, self.max_ngram),
            min_df=self.min_df,
            sublinear_tf=self.sublinear_tf,
        )
        classifier = LogisticRegression(C=self.C, max_iter=self.max_iter)
        return make_pipeline(features, classifier).fit(
            [r.text for r in train], [r.label for r in train]
        )

    def score(self, datamodule: SentimentDataModule) -> BaselineScores:
        pipeline = self.fit(datamodule.splits["train"], datamodule.hparams.lowercase)
        metrics, reports = {}, {}
        for split in ("val", "test"):
            reviews = datamodule.splits.get(split)
            if not reviews:
                continue
            # the columns of predict_proba follow the classes seen in training, 0 then 1
            probabilities = torch.tensor(pipeline.predict_proba([r.text for r in reviews]))
            labels = torch.tensor([r.label for r in reviews])
            scorer = classification_metrics(len(LABEL_NAMES)).clone(prefix=f"{split}/")
            metrics |= {name: float(value) for name, value in scorer(probabilities, labels).items()}
            if split == "test":
                records = prediction_records(
                    [r.line for r in reviews],
                    [r.text for r in reviews],
                    labels,
                    probabilities,
                    list(LABEL_NAMES),
                )
                reports["predictions/test_predictions.tsv"] = pd.DataFrame(records)
        return BaselineScores(metrics, reports)
