"""The CoNLL column layout: one token a line in whitespace-separated columns, a blank line
between sentences, ``-DOCSTART-`` lines between documents. The NER task reads its tags from it
(:mod:`rnnpipe.tasks.ner.conll`); a text corpus reads the tokens alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rnnpipe.data.text_file import read_lines

DOCSTART = "-DOCSTART-"

TokenLine = tuple[list[str], int]  # a token line's columns and its line number


def read_column_sentences(path: str | Path) -> Iterator[list[TokenLine]]:
    """Each sentence of the file as its token lines, in order; blank lines and ``-DOCSTART-``
    lines end a sentence."""
    sentence: list[TokenLine] = []
    for number, line in read_lines(path):
        columns = line.split()
        if columns and columns[0] != DOCSTART:
            sentence.append((columns, number))
        elif sentence:
            yield sentence
            sentence = []
    if sentence:
        yield sentence
