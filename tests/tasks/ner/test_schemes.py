"""Tag schemes: conlleval's chunk reading, IOB1/IOB2 detection, conversion, allowed moves."""

from __future__ import annotations

import pytest

from rnnpipe.tasks.ner.schemes import (
    Chunk,
    allowed_transition,
    breaks_scheme,
    convert,
    detect_scheme,
    is_valid_tag,
    read_chunks,
    scheme_labels,
    split_tag,
    write_tags,
)


def tags(text: str) -> list[str]:
    return text.split()


def test_split_tag_at_the_first_hyphen():
    assert split_tag("B-PER") == ("B", "PER")
    assert split_tag("I-NEAR-MISS") == ("I", "NEAR-MISS")
    assert split_tag("O") == ("O", "")


@pytest.mark.parametrize(
    ("text", "chunks"),
    [
        ("B-PER I-PER O B-LOC", [("PER", 0, 2), ("LOC", 3, 4)]),
        # IOB1: I- starts a chunk after O; B- separates two chunks of one type
        ("I-PER I-PER B-PER O I-LOC", [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5)]),
        # broken IOB2 (I- after O, type change inside) read as conlleval reads it
        ("O I-ORG I-ORG I-LOC", [("ORG", 1, 3), ("LOC", 3, 4)]),
        # BIOES
        ("S-PER B-ORG I-ORG E-ORG S-LOC", [("PER", 0, 1), ("ORG", 1, 4), ("LOC", 4, 5)]),
        ("O O", []),
    ],
)
def test_read_chunks_like_conlleval(text, chunks):
    assert read_chunks(text.split()) == [Chunk(*c) for c in chunks]


def test_write_tags_in_iob2_and_bioes():
    chunks = [Chunk("PER", 0, 2), Chunk("PER", 2, 3), Chunk("LOC", 4, 7)]
    assert write_tags(chunks, 8, "IOB2") == tags("B-PER I-PER B-PER O B-LOC I-LOC I-LOC O")
    assert write_tags(chunks, 8, "BIOES") == tags("B-PER E-PER S-PER O B-LOC I-LOC E-LOC O")
    with pytest.raises(ValueError, match="tag scheme must be one of"):
        write_tags(chunks, 8, "IOB1")


def test_conversion_from_iob1_keeps_every_chunk():
    iob1 = tags("I-PER I-PER B-PER O I-LOC O I-MISC I-MISC")
    iob2 = convert(iob1, "IOB2")
    assert iob2 == tags("B-PER I-PER B-PER O B-LOC O B-MISC I-MISC")
    assert convert(iob2, "BIOES") == tags("B-PER E-PER S-PER O S-LOC O B-MISC E-MISC")
    assert read_chunks(convert(iob2, "BIOES")) == read_chunks(iob1)
    assert convert(convert(iob2, "BIOES"), "IOB2") == iob2


def test_detect_scheme():
    assert detect_scheme([["B-PER", "I-PER", "O"], ["B-LOC"]]) == "IOB2"
    assert detect_scheme([["O", "O"], ["I-PER", "I-PER"]]) == "IOB1"
    # I-LOC begins a LOC chunk (breaks IOB2), B-PER follows no PER (breaks IOB1): a tie is IOB2
    assert detect_scheme([["B-PER", "I-LOC"]]) == "IOB2"
    assert detect_scheme([["B-PER", "I-LOC", "O", "I-PER"]]) == "IOB1"  # 1 IOB1 break, 2 IOB2
    assert detect_scheme([["O"]]) == "IOB2"


def test_what_breaks_each_scheme():
    assert breaks_scheme("O", "I-PER", "IOB2")
    assert breaks_scheme("B-LOC", "I-PER", "IOB2")
    assert not breaks_scheme("B-PER", "I-PER", "IOB2")
    assert not breaks_scheme("O", "B-PER", "IOB2")
    assert breaks_scheme("O", "B-PER", "IOB1")  # IOB1's B- only separates X from X
    assert not breaks_scheme("I-PER", "B-PER", "IOB1")
    assert not breaks_scheme("O", "I-PER", "IOB1")
    with pytest.raises(ValueError, match="input scheme must be one of"):
        breaks_scheme("O", "O", "BIOES")


def test_valid_tags_per_scheme():
    assert is_valid_tag("O", "IOB2") and is_valid_tag("I-PER", "IOB2")
    assert not is_valid_tag("E-PER", "IOB2") and is_valid_tag("E-PER", "BIOES")
    for bad in ("PER", "B-", "BB-PER", "o", "X-PER"):
        assert not is_valid_tag(bad, "BIOES"), bad


def test_labels_and_allowed_moves():
    assert scheme_labels({"PER", "LOC"}, "IOB2") == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert len(scheme_labels({"PER", "LOC"}, "BIOES")) == 9
    # IOB2: I-X only after B-X or I-X, never at the start; any tag may end a sentence
    assert not allowed_transition(None, "I-PER", "IOB2")
    assert not allowed_transition("O", "I-PER", "IOB2")
    assert not allowed_transition("B-LOC", "I-PER", "IOB2")
    assert allowed_transition("B-PER", "I-PER", "IOB2")
    assert allowed_transition("I-PER", None, "IOB2")
    # BIOES: a chunk opened by B- must go on with I-/E- of its type, and E-/S- close it
    assert not allowed_transition("B-PER", "O", "BIOES")
    assert not allowed_transition("I-PER", None, "BIOES")
    assert not allowed_transition("B-PER", "E-LOC", "BIOES")
    assert not allowed_transition("O", "E-PER", "BIOES")
    assert allowed_transition("B-PER", "E-PER", "BIOES")
    assert allowed_transition("E-PER", "S-LOC", "BIOES")
    assert allowed_transition("S-PER", None, "BIOES")
