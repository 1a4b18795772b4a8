"""Every reader against seeded random damage: each input either parses or raises a
:class:`DataFormatError` whose message starts with the file it names (and the line, where one
is named, lies in the file), never another exception.

Small valid files (the bundled samples' first lines, a tiny vector file) are damaged by a few
random edits: lines dropped, duplicated, swapped or truncated, random bytes inserted (invalid
UTF-8, tabs, spaces, line breaks, a byte-order mark), the file cut short or emptied, and, as
every reader takes ``.gz``, the file gzipped and the archive itself cut or corrupted.

``RNNPIPE_FUZZ_EXAMPLES`` sets the examples per reader (``make fuzz`` runs many);
``RNNPIPE_FUZZ_SEED`` another seed. A failure names the reader, the example and its bytes.
"""

from __future__ import annotations

import functools
import gzip
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import SAMPLE_DATA

from rnnpipe.data.reviews import read_reviews
from rnnpipe.data.text_file import count_lines
from rnnpipe.data.tokenization import PAD, UNK
from rnnpipe.data.word_vectors import read_word_vectors
from rnnpipe.errors import DataFormatError
from rnnpipe.tasks.ner.conll import read_conll, read_tagged_file
from rnnpipe.tasks.translation.corpus import read_parallel

EXAMPLES = int(os.environ.get("RNNPIPE_FUZZ_EXAMPLES", "80"))
SEED = int(os.environ.get("RNNPIPE_FUZZ_SEED", "17"))
# inserted at random: bytes that break UTF-8, field and line separators, tags and numbers
NOISE = (
    b"\t|\n|\r\n|\n\n| |  |\xff|\xc3|\xe2\x82|\x00|\xef\xbb\xbf|-DOCSTART-|O|B-|I-PER|0|1|2 3"
    b"| nan | inf |1e999 "
).split(b"|")


def first_lines(path: Path, count: int) -> bytes:
    return b"".join(path.read_bytes().splitlines(keepends=True)[:count])


SEEDS = {
    "reviews": first_lines(SAMPLE_DATA / "reviews_sample.tsv", 8),
    "conll": first_lines(SAMPLE_DATA / "conll2003_sample" / "train.txt", 16),
    "en": first_lines(SAMPLE_DATA / "multi30k_sample" / "train.en", 5),
    "de": first_lines(SAMPLE_DATA / "multi30k_sample" / "train.de", 5),
    "vectors": b"3 2\nthe 0.1 0.2\nThe -1.5 2e-3\nfood 1 -1\n",
}
VOCABULARY = {PAD: 0, UNK: 1, "the": 2, "food": 3, "Good": 4}


def damaged(content: bytes, rng: random.Random) -> bytes:
    """``content`` after one to four random edits."""
    for _ in range(rng.randint(1, 4)):
        lines = content.splitlines(keepends=True) or [b""]
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        edit = rng.randrange(8)
        if edit == 0:
            del lines[i]
        elif edit == 1:
            lines.insert(i, lines[j])
        elif edit == 2:
            lines[i], lines[j] = lines[j], lines[i]
        elif edit == 3:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif edit in (4, 5):
            at = rng.randrange(len(lines[i]) + 1)
            noise = rng.choice([*NOISE, bytes([rng.randrange(256)])])
            lines[i] = lines[i][:at] + noise + lines[i][at:]
        elif edit == 6:
            return b"".join(lines)[: rng.randrange(len(content) + 1)]
        else:
            return b"" if rng.random() < 0.3 else rng.randbytes(rng.randrange(1, 40))
        content = b"".join(lines)
    return content


def written(path: Path, content: bytes, rng: random.Random) -> Path:
    """Write ``content`` as ``path`` or, one time in four, gzipped as ``path.gz``, the archive
    sometimes cut short or with a byte changed."""
    if rng.random() < 0.75:
        path.write_bytes(content)
        return path
    archive = bytearray(gzip.compress(content))
    if rng.random() < 0.5:
        archive = archive[: rng.randrange(len(archive) + 1)]
    elif archive and rng.random() < 0.5:
        archive[rng.randrange(len(archive))] = rng.randrange(256)
    path = path.with_name(path.name + ".gz")
    path.write_bytes(bytes(archive))
    return path


def check(reader: str, example: int, read: Callable[[], object], *paths: Path) -> None:
    """``read()`` parses or raises a DataFormatError naming one of ``paths``."""
    try:
        read()
    except DataFormatError as error:
        named = [p for p in paths if str(error).startswith(f"{p}:")]
        assert named, f"{reader} example {example}: {error} names none of {paths}"
        if error.line is not None and error.path.suffix != ".gz":
            end_of_file = count_lines(error.path) + 1  # where "got end of file" is reported
            assert 1 <= error.line <= end_of_file, f"{reader} example {example}: {error}"
    except Exception as error:
        contents = {p.name: p.read_bytes() for p in paths}
        raise AssertionError(
            f"{reader} example {example} (seed {SEED}) raised {error!r} for {contents!r}"
        ) from error


def finite_vectors(path: Path) -> None:
    """Vectors that parse are finite: a nan or inf would spread through every gradient."""
    matrix = read_word_vectors(path, VOCABULARY).matrix
    assert torch.isfinite(matrix).all(), f"non-finite vectors from {path}"


def fuzz_one_file(tmp_path: Path, reader: str, seed_file: str, read: Callable[..., object]):
    for example in range(EXAMPLES):
        rng = random.Random(f"{SEED}-{reader}-{example}")
        path = written(tmp_path / f"{example}.txt", damaged(SEEDS[seed_file], rng), rng)
        check(reader, example, functools.partial(read, path, rng), path)


@pytest.mark.parametrize(
    ("reader", "seed_file", "read"),
    [
        ("read_reviews", "reviews", lambda path, rng: read_reviews(path)),
        ("read_conll", "conll", lambda path, rng: read_conll(path)),
        (
            "read_tagged_file",
            "conll",
            lambda path, rng: read_tagged_file(
                path,
                rng.choice(["auto", "IOB1", "IOB2"]),
                rng.choice(["IOB2", "BIOES"]),
                repair_tags=rng.random() < 0.5,
            ),
        ),
        ("read_word_vectors", "vectors", lambda path, rng: finite_vectors(path)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_damaged_file_parses_or_names_itself(tmp_path, reader, seed_file, read):
    fuzz_one_file(tmp_path, reader, seed_file, read)


def test_damaged_parallel_files_parse_or_name_one_of_them(tmp_path):
    for example in range(EXAMPLES):
        rng = random.Random(f"{SEED}-read_parallel-{example}")
        pair = []
        for language in ("en", "de"):
            content = SEEDS[language]
            if rng.random() < 0.7:
                content = damaged(content, rng)
            pair.append(written(tmp_path / f"{example}.{language}", content, rng))
        check("read_parallel", example, functools.partial(read_parallel, *pair), *pair)


def test_the_undamaged_seed_files_parse(tmp_path):
    # the fuzzing starts from valid files: a reader refusing them would hide every other bug
    paths = {}
    for name, content in SEEDS.items():
        paths[name] = tmp_path / f"seed.{name}"
        paths[name].write_bytes(content)
    assert len(read_reviews(paths["reviews"])) == 7
    assert read_tagged_file(paths["conll"], "auto", "BIOES", repair_tags=False)
    assert len(read_parallel(paths["en"], paths["de"])) == 5
    assert read_word_vectors(paths["vectors"], VOCABULARY).matrix.shape == (5, 2)


def test_what_the_fuzzing_found(tmp_path):
    # a gzip archive with a damaged deflate stream raised a bare zlib.error
    archive = bytearray(gzip.compress(SEEDS["reviews"]))
    archive[len(archive) // 2] ^= 0xFF
    damaged_archive = tmp_path / "reviews.tsv.gz"
    damaged_archive.write_bytes(bytes(archive))
    with pytest.raises(DataFormatError) as caught:
        read_reviews(damaged_archive)
    assert str(caught.value).startswith(f"{damaged_archive}: expected a complete gzip file, got ")
    # nan and inf vectors were taken as numbers, and spread nan to every random vector
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("the 0.1 0.2\nfood 1 inf\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as caught:
        read_word_vectors(vectors, VOCABULARY)
    assert str(caught.value) == (
        f"{vectors}:2: expected finite numbers after the word, got 'food 1 inf'"
    )
