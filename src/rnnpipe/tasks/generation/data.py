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
from dataclasses import dataclass, field
from typing import Any

from rnnpipe.data.datamodule import TaskDataModule
from rnnpipe.data.reviews import LABEL_NAMES, Review, ReviewFileDataModule
from rnnpipe.data.tokenization import (
    BOS,
    EOS,
    PAD,
    SEQUENCE_SPECIAL_TOKENS,
    UNK,
    encode_texts,
    fit_character_tokenizer,
    fit_word_tokenizer,
    pad_batch,
)
from rnnpipe.data.word_vectors import require_word_tokens

LEVELS = ("char", "word")
LAYOUTS = ("reviews", "stream")


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


def check_generation_options(
    level: str,
    embeddings_path: str | None,
    layout: str,
    length_buckets: Mapping[str, int | None] | None,
) -> None:
    """Refuse a token level, layout or length buckets the generator's data cannot have."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if embeddings_path:
        require_word_tokens("embeddings_path", "level", level)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if length_buckets is not None:
        check_length_buckets(length_buckets)


@dataclass(frozen=True)
class LanguageModelRow:
    """One row of a batch before padding: four aligned id lists (see the module docstring)."""

    inputs: list[int]
    targets: list[int]
    labels: list[int]
    buckets: list[int]
    lines: list[int] = field(default_factory=list, compare=False)  # each review's source line

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, steps: slice) -> LanguageModelRow:
        return LanguageModelRow(
            self.inputs[steps], self.targets[steps], self.labels[steps], self.buckets[steps]
        )


def concatenate(examples: Iterable[LanguageModelRow]) -> LanguageModelRow:
    stream = LanguageModelRow([], [], [], [])
    for example in examples:
        stream.inputs.extend(example.inputs)
        stream.targets.extend(example.targets)
        stream.labels.extend(example.labels)
        stream.buckets.extend(example.buckets)
        stream.lines.extend(example.lines)
    return stream


def stream_rows(examples: list[LanguageModelRow], stream_length: int) -> list[LanguageModelRow]:
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


class LanguageModelDataModule(TaskDataModule):
    """Texts (:class:`Review` items) as the generator's examples: the tokenizer fitted on the
    train texts, one example per text or the stream, the batches. A subclass reads the texts
    (reviews: :class:`GenerationDataModule`; unlabelled text: ``corpus.TextCorpusDataModule``)
    and says what the conditions are called."""

    label_names: tuple[str, ...] = LABEL_NAMES  # the conditions, by the id in Review.label
    length_buckets: dict[str, int | None] | None = None

    def fit(self, train: list[Review]) -> dict[str, Any]:
        hp = self.hparams
        texts = (r.text for r in train)
        if hp.level == "char":
            tokenizer = fit_character_tokenizer(texts, hp.min_frequency, hp.lowercase)
        else:
            tokenizer = fit_word_tokenizer(
                texts, hp.min_frequency, hp.lowercase, special_tokens=SEQUENCE_SPECIAL_TOKENS
            )
        return {
            "tokenizers": {"tokenizer": tokenizer.to_str()},
            "labels": list(self.label_names),
            "length_bucket_counts": self.count_buckets(train),
        }

    def count_buckets(self, reviews: list[Review]) -> list[list[int]] | None:
        """``counts[label][bucket]``: how often each label's train reviews fall in each bucket."""
        if self.length_buckets is None:
            return None
        counts = [[0] * len(self.length_buckets) for _ in self.label_names]
        for review in reviews:
            counts[review.label][length_bucket(review.text, self.length_buckets)] += 1
        return counts

    def model_kwargs(self) -> dict[str, Any]:
        """Vocabulary, special ids, labels, the length buckets with their train counts;
        pretrained vectors if any."""
        tokenizer = self.preprocessing.tokenizer("tokenizer")
        ids = {
            f"{name}_id": tokenizer.token_to_id(token)
            for name, token in (("pad", PAD), ("unk", UNK), ("bos", BOS), ("eos", EOS))
        }
        kwargs = {
            "vocab_size": tokenizer.get_vocab_size(),
            "labels": list(self.label_names),
            "level": self.hparams.level,
            "length_buckets": list(self.length_buckets) if self.length_buckets else None,
            "length_bucket_counts": self.preprocessing["length_bucket_counts"],
            **ids,
        }
        vectors = self.word_vectors("embeddings_path", "tokenizer")
        return kwargs | ({"pretrained_embeddings": vectors} if vectors is not None else {})

    def prepare(self, split: str, reviews: list[Review]) -> list[LanguageModelRow]:
        """One row per review, except for training in the ``stream`` layout."""
        examples = self.examples(reviews, split)
        if split != "train" or self.hparams.layout == "reviews":
            return examples
        random.Random(self.hparams.seed).shuffle(examples)
        return stream_rows(examples, self.hparams.stream_length)

    def examples(self, reviews: list[Review], split: str = "train") -> list[LanguageModelRow]:
        """One row per review: ``<s> ids`` in, ``ids </s>`` out; a review's ids are cut to
        ``max_tokens`` (or refused)."""
        tokenizer = self.preprocessing.tokenizer("tokenizer")
        bos, eos = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
        examples = []
        for review, ids in zip(
            reviews, encode_texts(tokenizer, [r.text for r in reviews]), strict=True
        ):
            source = review.source or self.source_of(split)  # a corpus text names its own file
            ids = ids[: self.token_limit(split, len(ids), source, review.line)]
            bucket = length_bucket(review.text, self.length_buckets) if self.length_buckets else 0
            steps = len(ids) + 1
            examples.append(
                LanguageModelRow(
                    [bos, *ids],
                    [*ids, eos],
                    [review.label] * steps,
                    [bucket] * steps,
                    [review.line],
                )
            )
        return examples

    def collate(self, rows: list[LanguageModelRow]) -> dict[str, Any]:
        pad = self.preprocessing.tokenizer("tokenizer").token_to_id(PAD)
        tokens, lengths = pad_batch([r.inputs for r in rows], pad_id=pad)
        batch = {
            "tokens": tokens,
            "targets": pad_batch([r.targets for r in rows], pad_id=pad)[0],
            "labels": pad_batch([r.labels for r in rows], pad_id=0)[0],
            "lengths": lengths,
            "lines": [row.lines[0] for row in rows],  # the line of the review each row starts with
        }
        if self.length_buckets:
            batch["buckets"] = pad_batch([r.buckets for r in rows], pad_id=0)[0]
        return batch


class GenerationDataModule(ReviewFileDataModule, LanguageModelDataModule):
    """Reviews as conditioned language-model examples, each conditioned on its label.

    The split is the seeded, stratified one of the sentiment task; ``test_path`` replaces the
    test part with a file of its own. ``length_buckets`` (``{name: bound}``, or ``None``)
    adds a length bucket to every review's condition.

    Batches are dicts of ``(B, T)`` tensors ``tokens`` (inputs), ``targets``, ``labels``,
    ``buckets`` (only with length buckets), ``lengths (B,)`` and the source ``lines`` (one per
    row); padding is ``<pad>`` in ``tokens`` and ``targets``.
    """

    def __init__(
        self,
        path: str,
        test_path: str | None,
        level: str,
        layout: str,
        stream_length: int,
        length_buckets: Mapping[str, int | None] | None,
        val_fraction: float,
        test_fraction: float,
        split_seed: int,
        folds: int | None,
        fold: int | None,
        seed: int,
        min_frequency: int,
        lowercase: bool,
        max_tokens: int | None,
        length_policy: str,
        embeddings_path: str | None,
        batch_size: int,
        num_workers: int,
    ):
        check_generation_options(level, embeddings_path, layout, length_buckets)
        super().__init__()
        self.length_buckets = dict(length_buckets) if length_buckets is not None else None
