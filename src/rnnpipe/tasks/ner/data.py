"""NER data: CoNLL train/val(/test) files, vocabularies fitted on train, padded tagging batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

from rnnpipe.data.batching import LengthBuckets
from rnnpipe.data.datamodule import TaskDataModule
from rnnpipe.data.tokenization import PAD, UNK
from rnnpipe.tasks.ner.conll import Sentence, check_labels, read_tagged_file
from rnnpipe.tasks.ner.features import (
    CASINGS,
    TokenIds,
    encode_token_ids,
    fit_character_vocabulary,
    fit_word_vocabulary,
    pad_token_ids,
)
from rnnpipe.tasks.ner.schemes import TRAINING_SCHEMES, convert, scheme_labels, split_tag


@dataclass(frozen=True)
class EncodedSentence:
    """A sentence with its ids, encoded once at set-up so that batching only pads (encoding
    every batch again cost a third of an epoch on CoNLL-2003)."""

    sentence: Sentence
    ids: TokenIds
    tag_ids: torch.Tensor  # (T,) label ids

    @property
    def words(self) -> tuple[str, ...]:
        return self.sentence.words

    @property
    def tags(self) -> tuple[str, ...]:
        return self.sentence.tags

    @property
    def lines(self) -> tuple[int, ...]:
        return self.sentence.lines


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

    def prepare(self, split: str, sentences: list[Sentence]) -> list[EncodedSentence]:
        """Val and test tags checked against the label set; sentences of more than
        ``max_tokens`` tokens cut after that many (their tags rewritten so that the cut
        entity ends there), or refused; then every sentence encoded, once."""
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
        words, chars = self.preprocessing.tokenizer("words"), self.preprocessing.tokenizer("chars")
        encoded = encode_token_ids(
            [s.words for s in kept], words, chars, self.preprocessing["max_word_length"]
        )
        index = {label: i for i, label in enumerate(self.preprocessing["labels"])}
        return [
            EncodedSentence(sentence, ids, torch.tensor([index[t] for t in sentence.tags]))
            for sentence, ids in zip(kept, encoded, strict=True)
        ]

    def make_train_sampler(self, train: list[EncodedSentence]) -> LengthBuckets:
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

    def collate(self, sentences: list[EncodedSentence]) -> dict[str, Any]:
        words, chars = self.preprocessing.tokenizer("words"), self.preprocessing.tokenizer("chars")
        batch = pad_token_ids(
            [s.ids for s in sentences], words.token_to_id(PAD), chars.token_to_id(PAD)
        )
        batch["tags"] = pad_sequence([s.tag_ids for s in sentences], True, padding_value=0)
        batch["tokens"] = [list(s.words) for s in sentences]
        batch["gold"] = [list(s.tags) for s in sentences]
        batch["lines"] = [s.lines[0] for s in sentences]  # each sentence's id: its first line
        return batch
