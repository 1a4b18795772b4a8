"""Unlabelled text as language-model data: the pretraining step of a transfer recipe.

The reviews are only about 40 KB of text. A language model learns more of English from the
train splits of the other datasets here (Multi30k's English captions, CoNLL-2003's sentences),
and a generator or classifier then starts from it (``model.init_from``). This datamodule reads
such files as the generator's data with a single condition, ``text``: the model is the same
``ReviewGenerator``, unconditioned in effect, so every recurrent and token weight carries over.

``corpus`` names the files and their formats (a name mapped to null is left out, so a recipe
can drop a file of the one it builds on):

    lines   one text per line (plain or ``.gz``); blank lines are skipped
    conll   the CoNLL column format: each sentence's tokens, detokenised (``lamb .`` -> ``lamb.``)

Only train splits belong here: a recipe's pretraining text must never hold the validation or
test text it is scored on. The texts of all files are pooled and split at random (``split_seed``)
into train, validation (early stopping) and test parts of the corpus itself; ``test_path``, a
``lines`` file, replaces the test part, as for the other tasks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from rnnpipe.data.column_file import read_column_sentences
from rnnpipe.data.reviews import Review
from rnnpipe.data.splits import stratified_split
from rnnpipe.data.text_file import read_lines
from rnnpipe.errors import DataFormatError
from rnnpipe.tasks.generation.data import LanguageModelDataModule, check_generation_options

FORMATS = ("lines", "conll")
CORPUS_LABEL = "text"  # the one condition of every corpus text

# CoNLL's tokenisation undone: no space before closing punctuation and clitics, none after "("
_SPACE_BEFORE = re.compile(r" (?=[.,!?;:%)\]}]|'s\b|'re\b|'ve\b|'ll\b|'d\b|'m\b|n't\b)")
_SPACE_AFTER = re.compile(r"(?<=[(\[{$]) ")


def detokenize(words: tuple[str, ...] | list[str]) -> str:
    """Tokens joined as running text: ``("lamb", ".")`` -> ``"lamb."``."""
    return _SPACE_AFTER.sub("", _SPACE_BEFORE.sub("", " ".join(words)))


def read_corpus_file(path: str, file_format: str) -> list[Review]:
    """The texts of one corpus file, each with its line (a CoNLL sentence: its first token's)."""
    if file_format == "lines":
        return [
            Review(text.strip(), 0, number, path)
            for number, text in read_lines(path)
            if text.strip()
        ]
    return [
        Review(detokenize([columns[0] for columns, _ in sentence]), 0, sentence[0][1], path)
        for sentence in read_column_sentences(path)
    ]


def corpus_files(corpus: Mapping[str, Mapping[str, str] | None]) -> dict[str, Mapping[str, str]]:
    """The files of ``data.corpus`` that are not left out (mapped to null)."""
    return {name: entry for name, entry in corpus.items() if entry is not None}


def check_corpus(corpus: Mapping[str, Mapping[str, str] | None]) -> None:
    """``{name: {path, format}}``, at least one, each format one of :data:`FORMATS`."""
    if not corpus_files(corpus):
        raise ValueError(
            "data.corpus: expected at least one file, as name: {path: ..., format: lines|conll}"
        )
    for name, entry in corpus_files(corpus).items():
        if not isinstance(entry, Mapping) or set(entry) != {"path", "format"}:
            raise ValueError(
                f"data.corpus.{name}: expected {{path: ..., format: lines|conll}}, got {entry!r}"
            )
        if entry["format"] not in FORMATS:
            raise ValueError(
                f"data.corpus.{name}.format: expected one of {FORMATS}, got {entry['format']!r}"
            )


class TextCorpusDataModule(LanguageModelDataModule):
    """The generator's batches (:class:`LanguageModelDataModule`) over unlabelled text files.

    Every text has the one condition ``text``; there are no length buckets or folds: the
    validation and test parts are ``val_fraction`` and ``test_fraction`` of the pooled texts, or
    the test part is the ``lines`` file ``test_path``.
    """

    label_names = (CORPUS_LABEL,)

    def __init__(
        self,
        corpus: Mapping[str, Mapping[str, str] | None],
        test_path: str | None,
        level: str,
        layout: str,
        stream_length: int,
        val_fraction: float,
        test_fraction: float,
        split_seed: int,
        seed: int,
        min_frequency: int,
        lowercase: bool,
        max_tokens: int | None,
        length_policy: str,
        batch_size: int,
        num_workers: int,
    ):
        check_corpus(corpus)
        check_generation_options(level, None, layout, None)
        super().__init__()

    def read_splits(self) -> dict[str, list[Review]]:
        hp = self.hparams
        texts = [
            text
            for entry in corpus_files(hp.corpus).values()
            for text in read_corpus_file(entry["path"], entry["format"])
        ]
        if not texts:
            paths = ", ".join(entry["path"] for entry in corpus_files(hp.corpus).values())
            raise DataFormatError(paths, None, "at least one text in the corpus files", "none")
        test_fraction = 0.0 if hp.test_path else hp.test_fraction
        train, val, test = stratified_split(
            [0] * len(texts), hp.val_fraction, test_fraction, hp.split_seed
        )
        parts = {"train": train, "val": val, "test": test}
        splits = {split: [texts[i] for i in ids] for split, ids in parts.items()}
        return splits | ({"test": self.read_test_file(hp.test_path)} if hp.test_path else {})

    def read_test_file(self, path: str) -> list[Review]:
        return read_corpus_file(path, "lines")

    def empty_split_message(self, split: str) -> str:
        hp = self.hparams
        files = len(corpus_files(hp.corpus))
        return (
            f"data.corpus: the {split} split of {files} file(s) is empty: add text or "
            f"raise data.{split}_fraction (data.val_fraction={hp.val_fraction}, "
            f"data.test_fraction={hp.test_fraction})"
        )

    def training_files(self) -> dict[str, Path]:
        files = corpus_files(self.hparams.corpus)
        test = {"test": Path(self.hparams.test_path)} if self.hparams.test_path else {}
        return {name: Path(entry["path"]) for name, entry in files.items()} | test
