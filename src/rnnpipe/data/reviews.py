"""Restaurant reviews: the ``Review<TAB>Liked`` TSV format, read by two tasks (sentiment and
generation), and the seeded stratified split they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnpipe.data.datamodule import TaskDataModule
from rnnpipe.data.splits import stratified_folds, stratified_split
from rnnpipe.data.text_file import read_lines
from rnnpipe.errors import DataFormatError

HEADER = "Review\tLiked"
LABEL_NAMES = ("negative", "positive")  # Liked = 0, Liked = 1


@dataclass(frozen=True)
class Review:
    text: str
    label: int  # 0 = negative, 1 = positive
    line: int  # where it came from, for error messages and prediction files
    source: str | None = None  # its file, where a split pools several (a text corpus)


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
    path: str,
    test_path: str | None,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    folds: int | None,
    fold: int | None,
) -> dict[str, list[Review]]:
    """``{"train", "val", "test"}`` reviews: a seeded split stratified by label; ``test_path``,
    when given, is the test split instead of a held-out part of ``path``. With ``folds`` = k and
    ``fold`` = i (k-fold cross-validation), the test split is the i-th of k stratified folds
    (:func:`~rnnpipe.data.splits.stratified_folds`), and the validation split is
    ``val_fraction`` of the other reviews, stratified too."""
    reviews = read_reviews(path)
    labels = [r.label for r in reviews]
    if folds is None:
        train, val, test = stratified_split(labels, val_fraction, test_fraction, seed)
    else:
        test = stratified_folds(labels, folds, seed)[fold]
        held_out = set(test)
        rest = [i for i in range(len(reviews)) if i not in held_out]
        rest_train, rest_val, _ = stratified_split([labels[i] for i in rest], val_fraction, 0, seed)
        train, val = [rest[i] for i in rest_train], [rest[i] for i in rest_val]
    return {
        "train": [reviews[i] for i in train],
        "val": [reviews[i] for i in val],
        "test": read_reviews(test_path) if test_path else [reviews[i] for i in test],
    }


def check_folds(folds: int | None, fold: int | None, test_path: str | None) -> None:
    """k-fold cross-validation needs both ``folds`` and ``fold``, and no test file of its own."""
    if folds is None and fold is None:
        return
    if test_path is not None:
        raise ValueError(
            f"data.folds: expected null with a test file of its own (data.test_path={test_path}),"
            f" got {folds}: the folds are the test splits"
        )
    if not isinstance(folds, int) or folds < 2:
        raise ValueError(f"data.folds: expected an integer of at least 2 with data.fold set, "
                         f"got {folds!r}")  # fmt: skip
    if not isinstance(fold, int) or not 0 <= fold < folds:
        raise ValueError(f"data.fold: expected an integer from 0 to {folds - 1} "
                         f"(data.folds={folds}), got {fold!r}")  # fmt: skip


class ReviewFileDataModule(TaskDataModule):
    """The reading half of a DataModule over one reviews file: a seeded split stratified by
    label, or ``test_path`` as the test split instead of a held-out part; a subclass fits,
    prepares and collates. Its hyperparameters include ``path``, ``test_path``,
    ``val_fraction``, ``test_fraction`` and ``split_seed``, which is not the run's ``seed``: the
    runs of a seed group are scored on the same held-out reviews; and ``folds`` and ``fold``
    (both null, or k-fold cross-validation's k and the fold held out as the test split)."""

    def read_splits(self) -> dict[str, list[Review]]:
        hp = self.hparams
        check_folds(hp.folds, hp.fold, hp.test_path)
        test_fraction = 0.0 if hp.test_path else hp.test_fraction
        return split_reviews(
            hp.path, hp.test_path, hp.val_fraction, test_fraction, hp.split_seed, hp.folds, hp.fold
        )

    def read_test_file(self, path: str) -> list[Review]:
        return read_reviews(path)

    def source_of(self, split: str) -> str:
        """The file a split's reviews come from."""
        test_file = self.hparams.test_path and (split == "test" or self.evaluating)
        return self.hparams.test_path if test_file else self.hparams.path

    def empty_split_message(self, split: str) -> str:
        """Too few reviews of each label for the split fractions: name the file and the
        fractions to change."""
        hp = self.hparams
        fractions = f"data.val_fraction={hp.val_fraction}"
        if not hp.test_path:
            fractions += f", data.test_fraction={hp.test_fraction}"
        change = f"raise data.{split}_fraction" if split != "train" else "lower the fractions"
        return (
            f"{hp.path}: expected enough reviews of each label to split them ({fractions}), "
            f"got too few: the {split} split is empty; add reviews or {change}"
        )

    def training_files(self) -> dict[str, Path]:
        files = {"reviews": Path(self.hparams.path)}
        files |= {"test": Path(self.hparams.test_path)} if self.hparams.test_path else {}
        return files | self.vector_files("embeddings_path")
