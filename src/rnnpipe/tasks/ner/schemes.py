"""Chunk tag schemes (IOB1, IOB2, BIOES): reading chunks the way conlleval does, and writing them.

A tag is ``O`` (outside every entity) or ``<prefix>-<type>``, e.g. ``B-PER``:

* IOB1 (the original CoNLL-2003 files): ``I-X`` marks every token of an X chunk; ``B-X`` only
  begins a chunk that directly follows another X chunk.
* IOB2 (BIO): ``B-X`` begins every chunk, ``I-X`` continues it.
* BIOES: ``B-X`` begins and ``E-X`` ends a chunk of two or more tokens, ``I-X`` is inside it,
  ``S-X`` is a chunk of one token.

Chunks are read with conlleval's ``startOfChunk``/``endOfChunk`` rules, which accept any mix of
these prefixes; a sequence that breaks its scheme (``I-X`` after ``O`` in IOB2) is read as
conlleval reads it (a chunk starts there). That reading is how a file is repaired and converted:
tags -> chunks -> tags in the training scheme.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

INPUT_SCHEMES = ("IOB1", "IOB2")
TRAINING_SCHEMES = ("IOB2", "BIOES")
OUTSIDE = "O"
PREFIXES = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}


@dataclass(frozen=True)
class Chunk:
    """An entity: tokens ``start`` up to (not including) ``end`` have type ``type``."""

    type: str
    start: int
    end: int


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")`` (conlleval's split at the first
    hyphen; a type may itself hold hyphens)."""
    prefix, hyphen, type_ = tag.partition("-")
    return (prefix, type_) if hyphen else (tag, "")


def is_valid_tag(tag: str, scheme: str) -> bool:
    """``O`` or a prefix of ``scheme`` (``B``/``I``; plus ``E``/``S`` for BIOES) and a type."""
    prefix, type_ = split_tag(tag)
    return tag == OUTSIDE or (prefix in PREFIXES[scheme] and len(prefix) == 1 and type_ != "")


def chunk_ends(previous: str, tag: str) -> bool:
    """conlleval's ``endOfChunk``: does a chunk end just before ``tag`` (after ``previous``)?"""
    previous_prefix, previous_type = split_tag(previous)
    prefix, type_ = split_tag(tag)
    return (
        previous_prefix in ("E", "S")
        or (previous_prefix in ("B", "I") and prefix in ("B", "S", "O"))
        or (previous_prefix != "O" and previous_type != type_)
    )


def chunk_starts(previous: str, tag: str) -> bool:
    """conlleval's ``startOfChunk``: does a chunk start at ``tag`` (after ``previous``)?"""
    previous_prefix, previous_type = split_tag(previous)
    prefix, type_ = split_tag(tag)
    return (
        prefix in ("B", "S")
        or (prefix in ("I", "E") and previous_prefix in ("O", "E", "S"))
        or (prefix != "O" and previous_type != type_)
    )


def read_chunks(tags: Sequence[str]) -> list[Chunk]:
    """The chunks of one sentence, as conlleval reads them (sentence edges act as ``O``)."""
    chunks = []
    start, previous = None, OUTSIDE
    for position, tag in enumerate([*tags, OUTSIDE]):
        if start is not None and chunk_ends(previous, tag):
            chunks.append(Chunk(split_tag(previous)[1], start, position))
            start = None
        if chunk_starts(previous, tag):
            start = position
        previous = tag
    return chunks


def write_tags(chunks: Iterable[Chunk], length: int, scheme: str) -> list[str]:
    """Tags in ``scheme`` (IOB2 or BIOES) for a sentence of ``length`` tokens holding ``chunks``."""
    if scheme not in TRAINING_SCHEMES:
        raise ValueError(f"tag scheme must be one of {TRAINING_SCHEMES}, got {scheme!r}")
    tags = [OUTSIDE] * length
    for chunk in chunks:
        size = chunk.end - chunk.start
        if scheme == "BIOES" and size == 1:
            tags[chunk.start] = f"S-{chunk.type}"
            continue
        tags[chunk.start] = f"B-{chunk.type}"
        for position in range(chunk.start + 1, chunk.end):
            tags[position] = f"I-{chunk.type}"
        if scheme == "BIOES":
            tags[chunk.end - 1] = f"E-{chunk.type}"
    return tags


def convert(tags: Sequence[str], scheme: str) -> list[str]:
    """Re-write a sentence's tags (any scheme, or a broken one) in ``scheme``."""
    return write_tags(read_chunks(tags), len(tags), scheme)


def breaks_scheme(previous: str, tag: str, scheme: str) -> bool:
    """Whether ``tag`` may not follow ``previous`` in an IOB1 or IOB2 file (``O`` at the start).

    IOB2: ``I-X`` only after ``B-X`` or ``I-X``. IOB1: ``B-X`` only right after an X token.
    """
    prefix, type_ = split_tag(tag)
    previous_type = split_tag(previous)[1]
    if scheme == "IOB2":
        return prefix == "I" and previous_type != type_
    if scheme == "IOB1":
        return prefix == "B" and previous_type != type_
    raise ValueError(f"input scheme must be one of {INPUT_SCHEMES}, got {scheme!r}")


def scheme_breaks(tags: Sequence[str], scheme: str) -> list[int]:
    """The positions in one sentence of the tags that break ``scheme`` (IOB1 or IOB2)."""
    previous = (OUTSIDE, *tags[:-1])
    return [
        i for i, pair in enumerate(zip(previous, tags, strict=True)) if breaks_scheme(*pair, scheme)
    ]


def detect_scheme(sentences: Iterable[Sequence[str]]) -> str:
    """The input scheme the file breaks less often; IOB2 when they tie (or nothing breaks).

    Each scheme forbids what marks the other: a chunk begun by ``I-`` (IOB1 only) breaks IOB2,
    ``B-X`` after anything but X (IOB2 only) breaks IOB1. Counting both, a stray ``I-`` in an
    IOB2 file is the one error reported, not every valid ``B-`` before it.
    """
    sentences = list(sentences)
    breaks = {s: sum(len(scheme_breaks(tags, s)) for tags in sentences) for s in INPUT_SCHEMES}
    return "IOB1" if breaks["IOB1"] < breaks["IOB2"] else "IOB2"


def scheme_labels(types: Iterable[str], scheme: str) -> list[str]:
    """Every tag of ``scheme`` over ``types``: ``O`` first, then by type (``B-LOC, I-LOC, ...``)."""
    return [OUTSIDE] + [
        f"{prefix}-{type_}" for type_ in sorted(set(types)) for prefix in PREFIXES[scheme]
    ]


def allowed_transition(previous: str | None, tag: str | None, scheme: str) -> bool:
    """Whether ``tag`` may follow ``previous`` in a well-formed ``scheme`` sequence.

    ``previous=None`` is the sentence start and ``tag=None`` its end. IOB2 forbids ``I-X``
    unless after ``B-X``/``I-X``; BIOES also forbids leaving a chunk open (``B-X``/``I-X``
    must be followed by ``I-X``/``E-X``) and entering one in the middle.
    """
    previous_prefix, previous_type = split_tag(previous) if previous else ("O", "")
    prefix, type_ = split_tag(tag) if tag else ("O", "")
    continues = prefix in ("I", "E")
    if scheme == "IOB2":
        return not continues or (previous_prefix in ("B", "I") and previous_type == type_)
    if scheme == "BIOES":
        inside = previous_prefix in ("B", "I")
        if inside:
            return continues and previous_type == type_
        return not continues
    raise ValueError(f"tag scheme must be one of {TRAINING_SCHEMES}, got {scheme!r}")
