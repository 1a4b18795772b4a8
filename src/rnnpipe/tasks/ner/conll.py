"""CoNLL-2003 named entities: the column format, read with its tags converted to a scheme.

A file holds one token per line, whitespace-separated columns, the entity tag last: the
original 4 columns ``token POS chunk NER`` or 2 columns ``token NER``. Blank lines end a
sentence; ``-DOCSTART-`` lines (document boundaries) are skipped. Tags come in IOB1 or IOB2
(detected per file, or configured) and are converted to the training scheme (IOB2 or BIOES)
through their chunks, see :mod:`rnnpipe.tasks.ner.schemes`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rnnpipe.data.column_file import read_column_sentences
from rnnpipe.errors import DataFormatError
from rnnpipe.tasks.ner.schemes import (
    INPUT_SCHEMES,
    convert,
    detect_scheme,
    is_valid_tag,
    scheme_breaks,
    split_tag,
)

log = logging.getLogger(__name__)

COLUMN_COUNTS = (2, 4)  # token NER | token POS chunk NER


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]
    lines: tuple[int, ...]  # the source line of each token, for errors and reports
    written_tags: tuple[str, ...] = ()  # as in the file, when ``tags`` are converted from them


def read_conll(path: str | Path) -> list[Sentence]:
    """The sentences of a CoNLL file with their tags as written (``O``, ``B-X`` or ``I-X``).

    The first token line fixes the column count (2 or 4); a line with another count, or a tag
    that is not ``O``/``B-<type>``/``I-<type>``, raises :class:`DataFormatError` naming the line.
    """
    sentences: list[Sentence] = []
    columns_in_file = None
    for token_lines in read_column_sentences(path):
        for columns, number in token_lines:
            if columns_in_file is None:
                if len(columns) not in COLUMN_COUNTS:
                    raise DataFormatError(
                        path,
                        number,
                        "2 columns (token NER) or 4 columns (token POS chunk NER)",
                        f"{len(columns)} columns",
                    )
                columns_in_file = len(columns)
            elif len(columns) != columns_in_file:
                raise DataFormatError(
                    path,
                    number,
                    f"{columns_in_file} columns like the file's first token line",
                    f"{len(columns)} columns",
                )
            if not is_valid_tag(columns[-1], "IOB2"):
                expected = "a tag O, B-<type> or I-<type>"
                raise DataFormatError(path, number, expected, repr(columns[-1]))
        words = tuple(columns[0] for columns, _ in token_lines)
        tags = tuple(columns[-1] for columns, _ in token_lines)
        sentences.append(Sentence(words, tags, tuple(number for _, number in token_lines)))
    if not sentences:
        raise DataFormatError(path, None, "at least one tagged sentence", "none")
    return sentences


def read_tagged_file(
    path: str | Path, input_scheme: str, tag_scheme: str, repair_tags: bool
) -> list[Sentence]:
    """Read a CoNLL file and convert its tags from ``input_scheme`` to ``tag_scheme``.

    ``input_scheme="auto"`` detects IOB1 or IOB2 for this file. A tag that breaks the input
    scheme (``I-X`` after ``O`` in IOB2) is repaired the way conlleval reads it when
    ``repair_tags``, else it is an error naming its line.
    """
    if input_scheme not in ("auto", *INPUT_SCHEMES):
        raise ValueError(
            f"input_scheme must be auto or one of {INPUT_SCHEMES}, got {input_scheme!r}"
        )
    sentences = read_conll(path)
    scheme = detect_scheme(s.tags for s in sentences) if input_scheme == "auto" else input_scheme
    repaired = 0
    for sentence in sentences:
        for position in scheme_breaks(sentence.tags, scheme):
            if not repair_tags:
                previous = sentence.tags[position - 1] if position else "O"
                raise DataFormatError(
                    path,
                    sentence.lines[position],
                    f"an {scheme} tag sequence",
                    f"{sentence.tags[position]!r} after {previous!r} (set data.repair_tags=true "
                    "to read it as conlleval does)",
                )
            repaired += 1
    if repaired:
        log.warning("%s: %d tags break %s; read as conlleval reads them", path, repaired, scheme)
    return [
        replace(s, tags=tuple(convert(s.tags, tag_scheme)), written_tags=s.tags) for s in sentences
    ]


def check_labels(path: str | Path, sentences: Sequence[Sentence], labels: Sequence[str]) -> None:
    """Every tag must be one the model was trained with: an unknown type names its line and
    quotes the tag as the file writes it (``B-FOO``, not its converted ``S-FOO``)."""
    known = set(labels)
    for sentence in sentences:
        for position, tag in enumerate(sentence.tags):
            if tag not in known:
                types = sorted({split_tag(label)[1] for label in labels} - {""})
                written = (sentence.written_tags or sentence.tags)[position]
                raise DataFormatError(
                    path,
                    sentence.lines[position],
                    f"an entity type seen in training {types}",
                    repr(written),
                )
