"""Generation: a sentiment label in, a restaurant review written for it out (one-to-many)."""

from rnnpipe.tasks.generation.corpus import TextCorpusDataModule
from rnnpipe.tasks.generation.data import GenerationDataModule
from rnnpipe.tasks.generation.model import ReviewGenerator
from rnnpipe.tasks.spec import Metric, TaskSpec

SPEC = TaskSpec(
    name="generation",
    module_class=ReviewGenerator,
    datamodule_class=GenerationDataModule,
    pretraining_datamodules=(TextCorpusDataModule,),
    headline_metrics=(
        Metric("test/bits_per_char", higher_is_better=False),
        Metric("test/perplexity", higher_is_better=False),
        Metric("test/classifier_agreement"),
    ),
)
