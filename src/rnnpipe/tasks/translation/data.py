"""Translation data: parallel train/val/test files, a tokenizer per language fitted on train."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnpipe.data.datamodule import TaskDataModule
from rnnpipe.data.tokenization import BOS, EOS, PAD, encode_texts, pad_batch
from rnnpipe.data.word_vectors import require_word_tokens
from rnnpipe.errors import DataFormatError
from rnnpipe.tasks.translation.corpus import (
    TOKENIZER_KINDS,
    SentencePair,
    fit_tokenizer,
    read_parallel,
    target_path_for,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedPair:
    """A sentence pair and its token ids (no special tokens)."""

    pair: SentencePair
    source_ids: list[int]
    target_ids: list[int]


class TranslationDataModule(TaskDataModule):
    """``test_path`` null tests on the val files. Training pairs with more than ``max_length``
    tokens on either side are dropped (and how many is logged); val and test are never filtered.

    Batches are dicts: ``source (B, S)``, ``source_lengths (B,)``, ``target_in (B, T)`` (``<s>``
    then the target), ``target_out (B, T)`` (the target then ``</s>``), ``target_lengths (B,)``,
    and the raw ``source_texts``, ``target_texts`` and source ``lines`` for reports.
    """

    def __init__(
        self,
        train_path: str,
        val_path: str,
        test_path: str | None,
        source_lang: str,
        target_lang: str,
        tokenizer: str,
        lowercase: bool,
        min_frequency: int,
        vocab_size: int,
        max_length: int | None,
        max_tokens: int | None,
        length_policy: str,
        embeddings_path: str | None,
        target_embeddings_path: str | None,
        seed: int,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int,
    ):
        if tokenizer not in TOKENIZER_KINDS:
            raise ValueError(f"tokenizer must be one of {TOKENIZER_KINDS}, got {tokenizer!r}")
        for key, path in (("embeddings_path", embeddings_path),
                          ("target_embeddings_path", target_embeddings_path)):  # fmt: skip
            if path:
                require_word_tokens(key, "tokenizer", tokenizer)
        if max_length is not None and max_length < 1:
            raise ValueError(
                f"max_length must be a positive number of tokens or null, got {max_length}"
            )
        super().__init__()
        self.dropped_pairs = 0

    def read_file(self, source_path: str) -> list[SentencePair]:
        hp = self.hparams
        return read_parallel(
            source_path, target_path_for(source_path, hp.source_lang, hp.target_lang)
        )

    def read_splits(self) -> dict[str, list[SentencePair]]:
        hp = self.hparams
        val = self.read_file(hp.val_path)
        test = self.read_file(hp.test_path) if hp.test_path else val
        return {"train": self.read_file(hp.train_path), "val": val, "test": test}

    def read_test_file(self, path: str) -> list[SentencePair]:
        return self.read_file(path)

    def fit(self, train: list[SentencePair]) -> dict[str, Any]:
        hp = self.hparams
        tokenizers = {
            side: fit_tokenizer(
                [getattr(pair, side) for pair in train],
                kind=hp.tokenizer,
                lowercase=hp.lowercase,
                min_frequency=hp.min_frequency,
                vocab_size=hp.vocab_size,
            )
            for side in ("source", "target")
        }
        return {
            "tokenizers": {side: tokenizer.to_str() for side, tokenizer in tokenizers.items()},
            "languages": {"source": hp.source_lang, "target": hp.target_lang},
        }

    def prepare(self, split: str, pairs: list[SentencePair]) -> list[EncodedPair]:
        """Encoded pairs, both sides cut to ``max_tokens`` (or a pair refused); training pairs
        longer than ``max_length`` dropped."""
        source_ids = encode_texts(self.preprocessing.tokenizer("source"), [p.source for p in pairs])
        target_ids = encode_texts(self.preprocessing.tokenizer("target"), [p.target for p in pairs])
        path = getattr(self.hparams, f"{split}_path") or self.hparams.val_path
        encoded = []
        for pair, source, target in zip(pairs, source_ids, target_ids, strict=True):
            keep = self.token_limit(split, max(len(source), len(target)), path, pair.line)
            encoded.append(EncodedPair(pair, source[:keep], target[:keep]))
        return self.drop_long(encoded) if split == "train" else encoded

    def drop_long(self, examples: list[EncodedPair]) -> list[EncodedPair]:
        """Training pairs with at most ``max_length`` tokens on each side; logs how many went."""
        limit, train_path = self.hparams.max_length, self.hparams.train_path
        if limit is None:
            return examples
        kept = [e for e in examples if len(e.source_ids) <= limit and len(e.target_ids) <= limit]
        self.dropped_pairs = len(examples) - len(kept)
        log.info(
            "max_length=%d: dropped %d of %d training pairs (%s)",
            limit,
            self.dropped_pairs,
            len(examples),
            train_path,
        )
        if not kept:
            raise DataFormatError(train_path, None, f"pairs of at most {limit} tokens", "none")
        return kept

    def files_of(self, split: str, source_path: str) -> dict[str, Path]:
        """``<split>_<source lang>`` and ``<split>_<target lang>``: a split's two files."""
        hp, source = self.hparams, Path(source_path)
        return {
            f"{split}_{hp.source_lang}": source,
            f"{split}_{hp.target_lang}": target_path_for(source, hp.source_lang, hp.target_lang),
        }

    def training_files(self) -> dict[str, Path]:
        hp = self.hparams
        files = self.files_of("train", hp.train_path) | self.files_of("val", hp.val_path)
        files |= self.files_of("test", hp.test_path) if hp.test_path else {}
        return files | self.vector_files("embeddings_path", "target_embeddings_path")

    def test_files(self, path: str) -> dict[str, Path]:
        return self.files_of("test", path)

    def model_kwargs(self) -> dict[str, Any]:
        """Vocabulary sizes and the special ids (the same in both languages); pretrained
        vectors of either side if any."""
        source = self.preprocessing.tokenizer("source")
        target = self.preprocessing.tokenizer("target")
        kwargs = {
            "source_vocab_size": source.get_vocab_size(),
            "target_vocab_size": target.get_vocab_size(),
            "pad_id": target.token_to_id(PAD),
            "bos_id": target.token_to_id(BOS),
            "eos_id": target.token_to_id(EOS),
        }
        for key, tokenizer, argument in (
            ("embeddings_path", "source", "pretrained_embeddings"),
            ("target_embeddings_path", "target", "pretrained_target_embeddings"),
        ):
            vectors = self.word_vectors(key, tokenizer)
            kwargs |= {argument: vectors} if vectors is not None else {}
        return kwargs

    def collate(self, examples: list[EncodedPair]) -> dict[str, Any]:
        target = self.preprocessing.tokenizer("target")
        bos, eos, pad = target.token_to_id(BOS), target.token_to_id(EOS), target.token_to_id(PAD)
        source, source_lengths = pad_batch([e.source_ids for e in examples], pad_id=pad)
        target_in, target_lengths = pad_batch([[bos, *e.target_ids] for e in examples], pad_id=pad)
        target_out, _ = pad_batch([[*e.target_ids, eos] for e in examples], pad_id=pad)
        return {
            "source": source,
            "source_lengths": source_lengths,
            "target_in": target_in,
            "target_out": target_out,
            "target_lengths": target_lengths,
            "source_texts": [e.pair.source for e in examples],
            "target_texts": [e.pair.target for e in examples],
            "lines": [e.pair.line for e in examples],
        }
