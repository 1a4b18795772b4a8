"""Restaurant reviews as language-model training data for the one-to-many generator.

Each review becomes one example in which every step knows what the review was written for:

    inputs   <s>  T    h    e    ...  !          (the previous token)
    targets  T    h    e    ...  !    </s>       (the token to predict)
    labels   1    1    1    ...  1    1          (its sentiment, at every step)
    buckets  0    0    0    ...  0    0          (its length bucket, when configured)

Tokens are characters (``level: char``) or words (``level: word``), from a Hugging Face
tokenizer fitted on the train split. Training batches come in one of two layouts:

* ``reviews``: one review per row, padded, with ``lengths``: short sequences for full BPTT;
* ``stream``: the train reviews' examples concatenated, in a seeded shuffled order, into one
  long stream cut between reviews into rows of up to ``stream_length`` steps, for truncated BPTT
  (the model carries its hidden state from chunk to chunk, and from review to review, within a
  row; every row starts where the previous one stops, so the rows together hold the whole
  stream).

Validation and test batches are always one review per row, each generated from scratch: the
measured perplexity is that of writing a review for its label, whichever layout trained it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.trainers import WordLevelTrainer
from torch.utils.data import DataLoader

from rnnpipe.data.batching import ResumableShuffle, make_loader
from rnnpipe.data.reviews import LABEL_NAMES, Review, read_reviews, review_files, split_reviews
from rnnpipe.data.tokenization import (
    BOS,
    EOS,
    PAD,
    UNK,
    encode_texts,
    fit_word_tokenizer,
    pad_batch,
)

LEVELS = ("char", "word")
LAYOUTS = ("reviews", "stream")
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)


def fit_char_tokenizer(
    texts: Iterable[str], min_frequency: int = 1, lowercase: bool = False
) -> Tokenizer:
    """A vocabulary of single characters (spaces and punctuation included), NFKC-normalised,
    optionally lowercased; decoding joins characters back without separators.

    ``<pad> <unk> <s> </s>`` get ids 0-3; characters seen fewer than ``min_frequency`` times
    map to ``<unk>``.
    """
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    tokenizer = Tokenizer(WordLevel(unk_token=UNK))
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    trainer = WordLevelTrainer(min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS))
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def check_length_buckets(buckets: Mapping[str, int | None]) -> None:
    """``{name: upper bound in characters (exclusive)}``, bounds increasing, the last ``None``."""
    bounds = list(buckets.values())
    if not bounds or bounds[-1] is not None:
        raise ValueError(
            "length_buckets must map names to increasing upper bounds in characters, the last "
            f"one null (no bound), e.g. {{short: 40, medium: 80, long: null}}; got {dict(buckets)}"
        )
    finite = bounds[:-1]
    if any(not isinstance(b, int) or b < 1 for b in finite) or finite != sorted(set(finite)):
        raise ValueError(
            f"length_buckets bounds must be increasing positive integers, got {dict(buckets)}"
        )


def length_bucket(text: str, buckets: Mapping[str, int | None]) -> int:
    """Index of the first bucket whose bound is above ``len(text)``."""
    for index, bound in enumerate(buckets.values()):
        if bound is None or len(text) < bound:
            return index
    raise AssertionError("the last bucket has no bound")


@dataclass(frozen=True)
class Example:
    """One row of a batch before padding: four aligned id lists (see the module docstring)."""

    inputs: list[int]
    targets: list[int]
    labels: list[int]
    buckets: list[int]

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, steps: slice) -> Example:
        return Example(
            self.inputs[steps], self.targets[steps], self.labels[steps], self.buckets[steps]
        )


def concatenate(examples: Iterable[Example]) -> Example:
    stream = Example([], [], [], [])
    for example in examples:
        stream.inputs.extend(example.inputs)
        stream.targets.extend(example.targets)
        stream.labels.extend(example.labels)
        stream.buckets.extend(example.buckets)
    return stream


def stream_rows(examples: list[Example], stream_length: int) -> list[Example]:
    """The examples concatenated in order and cut, between two reviews, into consecutive rows of
    at most ``stream_length`` steps (a longer review is a row of its own).

    Every row starts with a review's ``<s>``: there the model starts from the projected input,
    exactly as it does when it generates; the reviews after it in the row continue from the
    state the one before left.
    """
    if stream_length < 1:
        raise ValueError(f"stream_length must be a positive integer, got {stream_length}")
    rows, row, row_length = [], [], 0
    for example in examples:
        if row and row_length + len(example) > stream_length:
            rows.append(concatenate(row))
            row, row_length = [], 0
        row.append(example)
        row_length += len(example)
    return rows + ([concatenate(row)] if row else [])


class ReviewStreamDataModule(L.LightningDataModule):
    """Reviews as conditioned language-model examples: split, tokenizer, batches.

    The split is the seeded, stratified one of the sentiment task; ``test_path`` replaces the
    test part with a file of its own. ``length_buckets`` (``{name: bound}``, or ``None``)
    adds a length bucket to every review's condition. Once fitted (or restored with
    :meth:`load_state_dict`), ``setup("test")`` with a ``test_path`` reads only that file.

    The training rows come in an order rebuilt from ``(seed, epoch)`` (:class:`ResumableShuffle`),
    so a run resumed mid-epoch sees the batches it would have seen.

    Batches are dicts of ``(B, T)`` tensors ``tokens`` (inputs), ``targets``, ``labels``,
    ``buckets`` (only with length buckets) and ``lengths (B,)``; padding is ``<pad>`` in
    ``tokens`` and ``targets``.
    """

    def __init__(
        self,
        path: str,
        test_path: str | None = None,
        level: str = "char",
        layout: str = "stream",
        stream_length: int = 200,
        length_buckets: Mapping[str, int | None] | None = None,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 42,
        min_frequency: int = 1,
        lowercase: bool = False,
        batch_size: int = 32,
        num_workers: int = 0,
    ):
        super().__init__()
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if length_buckets is not None:
            check_length_buckets(length_buckets)
        self.path = path
        self.test_path = test_path
        self.level = level
        self.layout = layout
        self.stream_length = stream_length
        self.length_buckets = dict(length_buckets) if length_buckets is not None else None
        self.val_fraction = val_fraction
        self.test_fraction = 0.0 if test_path else test_fraction
        self.seed = seed
        self.min_frequency = min_frequency
        self.lowercase = lowercase
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.tokenizer: Tokenizer | None = None
        self.bucket_counts: list[list[int]] | None = None
        self.splits: dict[str, list[Review]] = {}
        self.train_set: list[Example] = []  # the training rows, in the chosen layout
        self.train_sampler: ResumableShuffle | None = None

    # -- fitted state: what a trained model needs to read and write text ---------------------
    def state_dict(self) -> dict[str, Any]:
        if self.tokenizer is None:
            return {}
        return {
            "tokenizers": {"tokenizer": self.tokenizer.to_str()},
            "labels": list(LABEL_NAMES),
            "length_bucket_counts": self.bucket_counts,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.tokenizer = Tokenizer.from_str(state["tokenizers"]["tokenizer"])
            self.bucket_counts = state["length_bucket_counts"]

    def input_files(self) -> dict[str, Path]:
        """The files ``setup`` read, by role: each MLflow run records them."""
        evaluating = self.tokenizer is not None and "train" not in self.splits
        return review_files(self.path, self.test_path, evaluating)

    def model_kwargs(self) -> dict[str, Any]:
        """Vocabulary, special ids, labels, and the length buckets with their train counts."""
        assert self.tokenizer is not None, "call setup('fit') first"
        ids = {
            f"{name}_id": self.tokenizer.token_to_id(token)
            for name, token in (("pad", PAD), ("unk", UNK), ("bos", BOS), ("eos", EOS))
        }
        return {
            "vocab_size": self.tokenizer.get_vocab_size(),
            "labels": list(LABEL_NAMES),
            "level": self.level,
            "length_buckets": list(self.length_buckets) if self.length_buckets else None,
            "length_bucket_counts": self.bucket_counts,
            **ids,
        }

    # -- Lightning hooks ---------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is not None and stage == "test" and self.test_path:
            self.splits["test"] = read_reviews(self.test_path)
            return
        if "train" in self.splits:
            return
        self.splits = split_reviews(
            self.path, self.test_path, self.val_fraction, self.test_fraction, self.seed
        )
        if self.tokenizer is None:
            texts = (r.text for r in self.splits["train"])
            if self.level == "char":
                self.tokenizer = fit_char_tokenizer(texts, self.min_frequency, self.lowercase)
            else:
                self.tokenizer = fit_word_tokenizer(
                    texts, self.min_frequency, self.lowercase, special_tokens=SPECIAL_TOKENS
                )
            self.bucket_counts = self.count_buckets(self.splits["train"])
        self.train_set = self.train_rows()
        self.train_sampler = ResumableShuffle(len(self.train_set), self.seed, self.batch_size)

    def count_buckets(self, reviews: list[Review]) -> list[list[int]] | None:
        """``counts[label][bucket]``: how often each label's train reviews fall in each bucket."""
        if self.length_buckets is None:
            return None
        counts = [[0] * len(self.length_buckets) for _ in LABEL_NAMES]
        for review in reviews:
            counts[review.label][length_bucket(review.text, self.length_buckets)] += 1
        return counts

    def examples(self, reviews: list[Review]) -> list[Example]:
        """One :class:`Example` per review: ``<s> ids`` in, ``ids </s>`` out."""
        bos, eos = self.tokenizer.token_to_id(BOS), self.tokenizer.token_to_id(EOS)
        examples = []
        for review, ids in zip(
            reviews, encode_texts(self.tokenizer, [r.text for r in reviews]), strict=True
        ):
            bucket = length_bucket(review.text, self.length_buckets) if self.length_buckets else 0
            steps = len(ids) + 1
            examples.append(
                Example([bos, *ids], [*ids, eos], [review.label] * steps, [bucket] * steps)
            )
        return examples

    def train_rows(self) -> list[Example]:
        examples = self.examples(self._reviews_of("train"))
        if self.layout == "reviews":
            return examples
        random.Random(self.seed).shuffle(examples)
        return stream_rows(examples, self.stream_length)

    def collate(self, rows: list[Example]) -> dict[str, Any]:
        pad = self.tokenizer.token_to_id(PAD)
        tokens, lengths = pad_batch([r.inputs for r in rows], pad_id=pad)
        batch = {
            "tokens": tokens,
            "targets": pad_batch([r.targets for r in rows], pad_id=pad)[0],
            "labels": pad_batch([r.labels for r in rows], pad_id=0)[0],
            "lengths": lengths,
        }
        if self.length_buckets:
            batch["buckets"] = pad_batch([r.buckets for r in rows], pad_id=0)[0]
        return batch

    def _loader(self, rows: list[Example], sampler: ResumableShuffle | None = None) -> DataLoader:
        return make_loader(
            rows,
            self.collate,
            self.seed,
            self.num_workers,
            batch_size=self.batch_size,
            sampler=sampler,
        )

    def _reviews_of(self, split: str) -> list[Review]:
        if not self.splits.get(split):
            raise RuntimeError(f"the {split} split is empty; check the split fractions")
        return self.splits[split]

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, sampler=self.train_sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.examples(self._reviews_of("val")))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.examples(self._reviews_of("test")))
