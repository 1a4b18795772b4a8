"""Pretrained word vectors (GloVe or word2vec text format) as an embedding matrix, and how much
of the vocabulary the file covered."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnpipe.data.text_file import read_lines
from rnnpipe.data.tokenization import PAD, SEQUENCE_SPECIAL_TOKENS
from rnnpipe.errors import DataFormatError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WordVectors:
    matrix: torch.Tensor  # (V, D), row i for the vocabulary's id i
    found: int  # vocabulary words given a vector by the file (special tokens aside)
    words: int  # vocabulary words, special tokens (<pad>, <unk>, <s>, </s>) aside

    @property
    def coverage(self) -> float:
        """The share of the vocabulary's words the file has a vector for."""
        return self.found / self.words if self.words else 0.0


def require_word_tokens(vectors_key: str, option: str, value: str) -> None:
    """Word vectors are read word by word: refuse them for a vocabulary of another kind
    (subwords, characters), naming the option that chose it (``data.<option>``)."""
    if value != "word":
        raise ValueError(
            f"data.{vectors_key}: expected word-level tokens (data.{option}=word) for word "
            f"vectors, got data.{option}={value}"
        )


def read_word_vectors(
    path: str | Path, vocabulary: dict[str, int], word_of: dict[str, str] | None = None
) -> WordVectors:
    """An embedding matrix ``(V, D)`` from a GloVe-format text file (``word v1 ... vD``), and
    its coverage of the vocabulary.

    ``word_of`` gives the word a token stands for where they differ (``"▁man"``, a word-start
    marked token, is ``"man"``). A vocabulary word takes the vector of the same word, else of
    its lowercase form; the rest
    (and ``<unk>``) are drawn from N(0, s^2), s the spread of the found vectors; ``<pad>`` is 0.
    A word2vec-style first line ``<count> <dim>`` is skipped. Lines whose dimension differs
    from the first vector's, or numbers that are not finite, raise :class:`DataFormatError`.
    """
    form = {token: (word_of or {}).get(token, token) for token in vocabulary}
    wanted = set(form.values()) | {word.lower() for word in form.values()}
    vectors: dict[str, list[float]] = {}
    dim = None
    for number, line in read_lines(path):
        fields = line.rstrip().split(" ")
        if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
            continue
        if not line.strip():
            continue
        if dim is None:
            if len(fields) < 2:
                raise DataFormatError(path, number, "a word and its vector", repr(line[:60]))
            dim = len(fields) - 1
        if len(fields) - 1 != dim:
            raise DataFormatError(
                path,
                number,
                f"a word and {dim} numbers like the first vector",
                f"{len(fields) - 1} numbers",
            )
        if fields[0] in wanted:
            try:
                vectors[fields[0]] = [float(f) for f in fields[1:]]
                if not all(map(math.isfinite, vectors[fields[0]])):
                    raise ValueError("a nan or inf would reach every gradient")
            except ValueError:
                raise DataFormatError(
                    path, number, "finite numbers after the word", repr(line[:60])
                ) from None
    if dim is None:
        raise DataFormatError(path, None, "at least one word vector", "none")
    found = {
        token: vectors[word] if word in vectors else vectors[word.lower()]
        for token, word in form.items()
        if word in vectors or word.lower() in vectors
    }
    values = torch.tensor(list(found.values())) if found else torch.zeros(0, dim)
    spread = float(values.std()) if values.numel() > 1 else 1.0 / math.sqrt(dim)
    matrix = torch.randn(len(vocabulary), dim) * spread
    for token, vector in found.items():
        matrix[vocabulary[token]] = torch.tensor(vector)
    matrix[vocabulary[PAD]] = 0.0
    words = [word for word in vocabulary if word not in SEQUENCE_SPECIAL_TOKENS]
    vectors_found = sum(word in found for word in words)
    log.info("%s: vectors for %d of %d vocabulary words", path, vectors_found, len(words))
    return WordVectors(matrix, vectors_found, len(words))
