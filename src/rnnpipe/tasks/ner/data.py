"""NER data: CoNLL train/val(/test) files, vocabularies fitted on train, padded tagging batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnpipe.data.batching import LengthBuckets
from rnnpipe.data.datamodule import TaskDataModule
from rnnpipe.data.tokenization import PAD, UNK, pad_batch
from rnnpipe.tasks.ner.conll import Sentence, check_labels, read_tagged_file
from rnnpipe.tasks.ner.features import (
    CASINGS,
    encode_sentences,
    fit_character_vocabulary,
    fit_word_vocabulary,
)
from rnnpipe.tasks.ner.schemes import TRAINING_SCHEMES, convert, scheme_labels, split_tag


class NerDataModule(TaskDataModule):
    """CoNLL files read into the training tag scheme; word and character vocabularies and the
    label set fitted on train. A tag whose type the training split never had is an error naming
    its line. Training batches group sentences of similar length (:class:`LengthBuckets`).

    Batches are dicts: ``words, casing (B, T)``, ``chars (B, T, W)``, ``char_lengths (B, T)``,
    ``lengths (B,)``, ``tags (B, T)`` (label ids, 0 at padding), and the raw ``tokens`` and
    ``gold`` tag strings for reports.
    """

    def __init__(
        self,
        train_path: str,
        val_path: str,
        test_path: str | None,
        input_scheme: str,
        tag_scheme: str,
        repair_tags: bool,
        lowercase: bool,
        min_frequency: int,
        max_word_length: int,
        max_tokens: int | None,
        length_policy: str,
        embeddings_path: str | None,
        seed: int,
        batch_size: int,
        num_workers: int,
    ):
        if tag_scheme not in TRAINING_SCHEMES:
            raise ValueError(f"tag_scheme must be one of {TRAINING_SCHEMES}, got {tag_scheme!r}")
        if max_word_length < 1:
            raise ValueError(f"max_word_length must be >= 1, got {max_word_length}")
        super().__init__()

    def read(self, path: str) -> list[Sentence]:
        hp = self.hparams
        return read_tagged_file(path, hp.input_scheme, self.tag_scheme, hp.repair_tags)

    @property
    def tag_scheme(self) -> str:
        """The scheme the model learns: the fitted one once fitted, else the configured one."""
        return self.preprocessing.get("tag_scheme", self.hparams.tag_scheme)

    def read_splits(self) -> dict[str, list[Sentence]]:
        hp = self.hparams
        splits = {"train": self.read(hp.train_path), "val": self.read(hp.val_path)}
        return splits | ({"test": self.read(hp.test_path)} if hp.test_path else {})

    def read_test_file(self, path: str) -> list[Sentence]:
        return self.read(path)

    def fit(self, train: list[Sentence]) -> dict[str, Any]:
        hp = self.hparams
        words = fit_word_vocabulary(train, hp.min_frequency, hp.lowercase)
        types = {split_tag(tag)[1] for s in train for tag in s.tags} - {""}
        return {
            "tokenizers": {
                "words": words.to_str(),
                "chars": fit_character_vocabulary(train).to_str(),
            },
            "labels": scheme_labels(types, hp.tag_scheme),
            "tag_scheme": hp.tag_scheme,
            "max_word_length": hp.max_word_length,
        }

    def prepare(self, split: str, sentences: list[Sentence]) -> list[Sentence]:
        """Val and test tags checked against the label set; sentences of more than
        ``max_tokens`` tokens cut after that many (their tags rewritten so that the cut
        entity ends there), or refused."""
        path = getattr(self.hparams, f"{split}_path")
        if split != "train":
            check_labels(path, sentences, self.preprocessing["labels"])
        kept = []
        for sentence in sentences:
            keep = self.token_limit(split, len(sentence.words), path, sentence.lines[0])
            if keep < len(sentence.words):
                sentence = Sentence(
                    sentence.words[:keep],
                    tuple(convert(sentence.tags[:keep], self.tag_scheme)),
                    sentence.lines[:keep],
                )
            kept.append(sentence)
        return kept

    def make_train_sampler(self, train: list[Sentence]) -> LengthBuckets:
        lengths = [len(s.words) for s in train]
        return LengthBuckets(lengths, self.hparams.batch_size, self.hparams.seed)

    def training_files(self) -> dict[str, Path]:
        hp = self.hparams
        files = {"train": Path(hp.train_path), "val": Path(hp.val_path)}
        if hp.test_path:
            files["test"] = Path(hp.test_path)
        return files | self.vector_files("embeddings_path")

    def model_kwargs(self) -> dict[str, Any]:
        """Vocabulary sizes, padding/unknown ids, labels and scheme; pretrained vectors if any."""
        words, chars = self.preprocessing.tokenizer("words"), self.preprocessing.tokenizer("chars")
        kwargs = {
            "vocab_size": words.get_vocab_size(),
            "char_vocab_size": chars.get_vocab_size(),
            "num_casings": len(CASINGS),
            "labels": list(self.preprocessing["labels"]),
            "tag_scheme": self.tag_scheme,
            "pad_id": words.token_to_id(PAD),
            "unk_id": words.token_to_id(UNK),
            "char_pad_id": chars.token_to_id(PAD),
        }
        vectors = self.word_vectors("embeddings_path", "words")
        return kwargs | ({"pretrained_embeddings": vectors} if vectors is not None else {})

    def collate(self, sentences: list[Sentence]) -> dict[str, Any]:
        batch = encode_sentences(
            [s.words for s in sentences],
            self.preprocessing.tokenizer("words"),
            self.preprocessing.tokenizer("chars"),
            self.preprocessing["max_word_length"],
        )
        index = {label: i for i, label in enumerate(self.preprocessing["labels"])}
        batch["tags"], _ = pad_batch([[index[t] for t in s.tags] for s in sentences], pad_id=0)
        batch["tokens"] = [list(s.words) for s in sentences]
        batch["gold"] = [list(s.tags) for s in sentences]
        batch["lines"] = [s.lines[0] for s in sentences]  # each sentence's id: its first line
        return batch
