"""Sentiment: a restaurant review in, positive or negative out (many-to-one)."""

from rnnpipe.tasks.sentiment.data import SentimentDataModule
from rnnpipe.tasks.sentiment.model import SentimentClassifier
from rnnpipe.tasks.spec import Metric, TaskSpec

SPEC = TaskSpec(
    name="sentiment",
    module_class=SentimentClassifier,
    datamodule_class=SentimentDataModule,
    headline_metrics=(Metric("test/acc"), Metric("test/f1")),
)
