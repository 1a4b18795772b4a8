"""The dictionary baseline of NER: each word's most frequent tag in the train split.

A word seen in training gets the tag it had most often there (ties: the first in alphabetical
order), any other word ``O``. Tags are counted in the training scheme (IOB2 or BIOES); per-word
tags need not form a valid sequence (``O I-PER``, ``B-LOC`` with no ``E-LOC``), so each
sentence's tags are read as conlleval reads them and written back in the scheme
(:func:`~rnnpipe.tasks.ner.schemes.convert`), which keeps every chunk conlleval would count.
Scored on val (and test) by the tagger's own :class:`~rnnpipe.tasks.ner.metrics.EntityScores`;
the test sentences' entity counts are written as the tagger's are
(``predictions/test_entities.tsv``), for ``rnnpipe-compare``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import pandas as pd

from rnnpipe.tasks.ner.conll import Sentence
from rnnpipe.tasks.ner.data import NerDataModule
from rnnpipe.tasks.ner.metrics import EntityScores
from rnnpipe.tasks.ner.model import sentence_entities
from rnnpipe.tasks.ner.schemes import OUTSIDE, convert, split_tag
from rnnpipe.training.baseline import BaselineScores


def most_frequent_tags(train: Sequence[Sentence]) -> dict[str, str]:
    """Each train word's most frequent tag (ties: the first in alphabetical order)."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for sentence in train:
        for word, tag in zip(sentence.words, sentence.tags, strict=True):
            counts[word][tag] += 1
    return {word: min(tags, key=lambda t: (-tags[t], t)) for word, tags in counts.items()}


def tag_sentence(words: Sequence[str], lexicon: dict[str, str], scheme: str) -> list[str]:
    """Each word's tag from ``lexicon`` (``O`` if unseen), made a valid ``scheme`` sequence."""
    return convert([lexicon.get(word, OUTSIDE) for word in words], scheme)


class MostFrequentTag:
    method = "most-frequent-tag tagger (each train word's most frequent tag, O for unseen words)"

    def score(self, datamodule: NerDataModule) -> BaselineScores:
        lexicon = most_frequent_tags(datamodule.splits["train"])
        labels = datamodule.preprocessing["labels"]
        types = sorted({split_tag(label)[1] for label in labels} - {""})
        metrics, reports = {}, {}
        for split in ("val", "test"):
            sentences = datamodule.splits.get(split)
            if not sentences:
                continue
            gold = [list(s.tags) for s in sentences]
            predicted = [tag_sentence(s.words, lexicon, datamodule.tag_scheme) for s in sentences]
            scorer = EntityScores(types)
            scorer.update(gold, predicted)
            metrics |= {f"{split}/{name}": float(v) for name, v in scorer.compute().items()}
            if split == "test":
                rows = [
                    sentence_entities(s.lines[0], g, p)
                    for s, g, p in zip(sentences, gold, predicted, strict=True)
                ]
                reports["predictions/test_entities.tsv"] = pd.DataFrame(rows)
        return BaselineScores(metrics, reports)
