"""Named-entity recognition: one entity tag per token of a sentence (many-to-many, aligned)."""

from rnnpipe.tasks.ner.data import NerDataModule
from rnnpipe.tasks.ner.model import EntityTagger
from rnnpipe.tasks.spec import Metric, TaskSpec

SPEC = TaskSpec(
    name="ner",
    module_class=EntityTagger,
    datamodule_class=NerDataModule,
    headline_metrics=(Metric("test/f1"), Metric("test/precision"), Metric("test/recall")),
)
