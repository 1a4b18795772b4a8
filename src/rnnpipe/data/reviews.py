"""Restaurant reviews: the ``Review<TAB>Liked`` TSV format and its DataModule (many-to-one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from tokenizers import Tokenizer
from torch.utils.data import DataLoader

from rnnpipe.data.batching import ResumableShuffle, make_loader
from rnnpipe.data.splits import stratified_split
from rnnpipe.data.text_file import read_lines
from rnnpipe.data.tokenization import PAD, encode_texts, fit_word_tokenizer, pad_batch
from rnnpipe.errors import DataFormatError

HEADER = "Review\tLiked"
LABEL_NAMES = ("negative", "positive")  # Liked = 0, Liked = 1


@dataclass(frozen=True)
class Review:
    text: str
    label: int  # 0 = negative, 1 = positive
    line: int  # where it came from, for error messages and prediction files


def read_reviews(path: str | Path) -> list[Review]:
    """Parse a ``Review<TAB>Liked`` file: a header line, then ``<text>\\t<0|1>`` per line.

    Blank lines are skipped. Anything else that does not fit raises :class:`DataFormatError`
    with the file, the line number and what was expected.
    """
    reviews, number = [], 0
    for number, line in read_lines(path):
        if number == 1:
            if line != HEADER:
                raise DataFormatError(path, 1, f"the header {HEADER!r}", repr(line[:60]))
            continue
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) != 2:
            raise DataFormatError(
                path, number, "2 tab-separated columns (review, liked)", f"{len(columns)} columns"
            )
        text, liked = columns[0].strip(), columns[1].strip()
        if not text:
            raise DataFormatError(path, number, "a non-empty review text", "an empty text")
        if liked not in ("0", "1"):
            raise DataFormatError(path, number, "a label of 0 or 1", repr(liked))
        reviews.append(Review(text=text, label=int(liked), line=number))
    if number == 0:
        raise DataFormatError(path, 1, f"the header {HEADER!r}", "an empty file")
    if not reviews:
        raise DataFormatError(path, None, "at least one review after the header", "none")
    return reviews


def split_reviews(
    path: str, test_path: str | None, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[Review]]:
    """``{"train", "val", "test"}`` reviews: a seeded split stratified by label; ``test_path``,
    when given, is the test split instead of a held-out part of ``path``."""
    reviews = read_reviews(path)
    labels = [r.label for r in reviews]
    train, val, test = stratified_split(labels, val_fraction, test_fraction, seed)
    return {
        "train": [reviews[i] for i in train],
        "val": [reviews[i] for i in val],
        "test": read_reviews(test_path) if test_path else [reviews[i] for i in test],
    }


def review_files(path: str, test_path: str | None, evaluating: bool) -> dict[str, Path]:
    """The files a reviews DataModule reads, by role: only the test file when a fitted model is
    being evaluated, else the reviews file and the test file if one is given."""
    if evaluating and test_path:
        return {"test": Path(test_path)}
    return {"reviews": Path(path)} | ({"test": Path(test_path)} if test_path else {})


class ReviewsDataModule(L.LightningDataModule):
    """Reviews split into train/val/test, a word tokenizer fitted on train, padded batches.

    The split is seeded and stratified by label; ``test_path`` replaces the held-out test part
    with a file of its own. Once fitted (or restored with :meth:`load_state_dict`), ``setup``
    reuses the tokenizer and, for ``stage="test"`` with a ``test_path``, reads nothing else: that
    is how a trained model is evaluated on a new file.

    Batches are dicts: ``tokens (B, T)``, ``lengths (B,)``, ``labels (B,)``, and the raw
    ``texts`` and source ``lines`` for prediction reports.
    """

    def __init__(
        self,
        path: str,
        test_path: str | None = None,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 42,
        min_frequency: int = 1,
        lowercase: bool = True,
        batch_size: int = 32,
        num_workers: int = 0,
    ):
        super().__init__()
        self.path = path
        self.test_path = test_path
        self.val_fraction = val_fraction
        self.test_fraction = 0.0 if test_path else test_fraction
        self.seed = seed
        self.min_frequency = min_frequency
        self.lowercase = lowercase
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.tokenizer: Tokenizer | None = None
        self.splits: dict[str, list[Review]] = {}
        self.train_sampler: ResumableShuffle | None = None

    # -- fitted state: what a trained model needs to read new text ---------------------------
    def state_dict(self) -> dict[str, Any]:
        if self.tokenizer is None:
            return {}
        return {"tokenizers": {"tokenizer": self.tokenizer.to_str()}, "labels": list(LABEL_NAMES)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.tokenizer = Tokenizer.from_str(state["tokenizers"]["tokenizer"])

    def input_files(self) -> dict[str, Path]:
        """The files ``setup`` read, by role: each MLflow run records them."""
        evaluating = self.tokenizer is not None and "train" not in self.splits
        return review_files(self.path, self.test_path, evaluating)

    def model_kwargs(self) -> dict[str, Any]:
        """What the task module can only know after set-up: vocabulary, labels, padding id."""
        assert self.tokenizer is not None, "call setup('fit') first"
        return {
            "vocab_size": self.tokenizer.get_vocab_size(),
            "labels": list(LABEL_NAMES),
            "pad_id": self.tokenizer.token_to_id(PAD),
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
        self.train_sampler = ResumableShuffle(len(self.splits["train"]), self.seed, self.batch_size)
        if self.tokenizer is None:
            self.tokenizer = fit_word_tokenizer(
                (r.text for r in self.splits["train"]),
                min_frequency=self.min_frequency,
                lowercase=self.lowercase,
            )

    def collate(self, reviews: list[Review]) -> dict[str, Any]:
        tokens, lengths = pad_batch(
            encode_texts(self.tokenizer, [r.text for r in reviews]),
            pad_id=self.tokenizer.token_to_id(PAD),
        )
        return {
            "tokens": tokens,
            "lengths": lengths,
            "labels": torch.tensor([r.label for r in reviews], dtype=torch.long),
            "texts": [r.text for r in reviews],
            "lines": [r.line for r in reviews],
        }

    def _loader(self, split: str) -> DataLoader:
        if not self.splits.get(split):
            raise RuntimeError(f"the {split} split is empty; check the split fractions")
        return make_loader(
            self.splits[split],
            self.collate,
            self.seed,
            self.num_workers,
            batch_size=self.batch_size,
            sampler=self.train_sampler if split == "train" else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
