"""The Review<TAB>Liked reader, the stratified split and the reviews DataModule."""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter

import pytest
from conftest import SAMPLE_DATA

from rnnpipe.data.reviews import Review, read_reviews
from rnnpipe.data.splits import stratified_split
from rnnpipe.data.text_file import count_lines, sha256_of
from rnnpipe.errors import DataFormatError


def test_good_file_is_parsed_exactly(tmp_path):
    path = tmp_path / "reviews.tsv"
    content = (
        "\ufeffReview\tLiked\r\nWow... Loved this place.\t1\r\n\r\nCrème brûlée was cold.\t0\r\n"
    )
    path.write_bytes(content.encode())
    assert read_reviews(path) == [
        Review("Wow... Loved this place.", 1, line=2),
        Review("Crème brûlée was cold.", 0, line=4),
    ]


def test_gzipped_file_reads_the_same(tmp_path):
    path = tmp_path / "reviews.tsv.gz"
    path.write_bytes(gzip.compress(b"Review\tLiked\nGreat.\t1\n"))
    assert read_reviews(path) == [Review("Great.", 1, line=2)]


@pytest.mark.parametrize(
    ("content", "line", "expected"),
    [
        (b"Text\tLabel\nGood.\t1\n", 1, "expected the header 'Review\\tLiked', got 'Text\\tLabel'"),
        (
            b"Review\tLiked\nGood.\t1\nBad food\n",
            3,
            "expected 2 tab-separated columns (review, liked), got 1 columns",
        ),
        (b"Review\tLiked\nGood.\t1\tx\n", 2, "got 3 columns"),
        (b"Review\tLiked\nGood.\t1\nSo so.\t2\n", 3, "expected a label of 0 or 1, got '2'"),
        (b"Review\tLiked\n \t1\n", 2, "expected a non-empty review text, got an empty text"),
        (
            b"Review\tLiked\nGood.\t1\nCaf\xe9 ok.\t1\n",
            3,
            "expected UTF-8 text, got undecodable bytes b'\\xe9'",
        ),
        (b"Review\tLiked\n", None, "expected at least one review after the header, got none"),
        (b"", 1, "expected the header 'Review\\tLiked', got an empty file"),
    ],
)
def test_malformed_rows_name_file_line_and_expectation(tmp_path, content, line, expected):
    path = tmp_path / "bad.tsv"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as caught:
        read_reviews(path)
    where = f"{path}:{line}: " if line else f"{path}: "
    assert str(caught.value).startswith(where)
    assert expected in str(caught.value)
    assert caught.value.line == line


def test_missing_file_is_named(tmp_path):
    with pytest.raises(
        DataFormatError, match=r"nope\.tsv: expected an existing file, got no such file"
    ):
        read_reviews(tmp_path / "nope.tsv")


def test_bundled_sample_is_balanced_and_valid():
    reviews = read_reviews(SAMPLE_DATA / "reviews_sample.tsv")
    assert len(reviews) >= 300
    assert Counter(r.label for r in reviews) == {0: len(reviews) // 2, 1: len(reviews) // 2}


def test_split_is_stratified_seeded_and_disjoint():
    labels = [0] * 60 + [1] * 40
    train, val, test = stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=7)
    assert sorted(train + val + test) == list(range(100))
    assert Counter(labels[i] for i in test) == {0: 12, 1: 8}
    assert Counter(labels[i] for i in val) == {0: 6, 1: 4}
    assert (train, val, test) == stratified_split(labels, 0.1, 0.2, seed=7)
    assert test != stratified_split(labels, 0.1, 0.2, seed=8)[2]


def test_split_rejects_fractions_that_leave_no_training_data():
    with pytest.raises(ValueError, match="sum to less than 1"):
        stratified_split([0, 1], val_fraction=0.5, test_fraction=0.5, seed=0)


def test_line_count_and_checksum_of_plain_and_gzipped_files(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_bytes(b"one\ntwo\nthree")  # no final newline: still three lines
    packed = tmp_path / "a.txt.gz"
    packed.write_bytes(gzip.compress(b"one\ntwo\n"))
    assert count_lines(plain) == 3
    assert count_lines(packed) == 2
    assert sha256_of(plain) == hashlib.sha256(b"one\ntwo\nthree").hexdigest()
    assert sha256_of(packed) == hashlib.sha256(packed.read_bytes()).hexdigest()  # as stored
