"""Translation: an English sentence in, its German translation out (many-to-many, unaligned)."""

from rnnpipe.tasks.spec import Metric, TaskSpec
from rnnpipe.tasks.translation.data import TranslationDataModule
from rnnpipe.tasks.translation.model import Translator

SPEC = TaskSpec(
    name="translation",
    module_class=Translator,
    datamodule_class=TranslationDataModule,
    # cased BLEU (beam), greedy's, lowercased (a cased model's; a lowercased model's BLEU is that)
    headline_metrics=(
        Metric("test/bleu"),
        Metric("test/bleu_greedy"),
        Metric("test/bleu_lc"),
        Metric("test/chrf"),
    ),
)
