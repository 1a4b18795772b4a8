"""CoNLL-2003 named entities: the column format, its vocabularies, and the DataModule.

A file holds one token per line, whitespace-separated columns, the entity tag last: the
original 4 columns ``token POS chunk NER`` or 2 columns ``token NER``. Blank lines end a
sentence; ``-DOCSTART-`` lines (document boundaries) are skipped. Tags come in IOB1 or IOB2
(detected per file, or configured) and are converted to the training scheme (IOB2 or BIOES)
through their chunks, see :mod:`rnnpipe.data.tag_schemes`.

Each token becomes three inputs for the tagger (many-to-many, one tag per token):

* a word id from a WordLevel vocabulary fitted on the train split (optionally lowercased);
* a casing class (lower, Title, UPPER, digits, ...) that keeps what lowercasing throws away;
* its character ids, for a character-level RNN that can read words never seen in training.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from torch.utils.data import DataLoader

from rnnpipe.data.batching import LengthBuckets, make_loader
from rnnpipe.data.tag_schemes import (
    INPUT_SCHEMES,
    TRAINING_SCHEMES,
    breaks_scheme,
    convert,
    detect_scheme,
    is_valid_tag,
    scheme_labels,
    split_tag,
)
from rnnpipe.data.text_file import read_lines
from rnnpipe.data.tokenization import PAD, UNK, pad_batch
from rnnpipe.errors import DataFormatError

log = logging.getLogger(__name__)

DOCSTART = "-DOCSTART-"
COLUMN_COUNTS = (2, 4)  # token NER | token POS chunk NER
CASINGS = (PAD, "lower", "Title", "UPPER", "mixed", "digits", "has_digit", "other")

# Raw sentences are split close to the CoNLL-2003 (Penn Treebank-like) tokenisation: "U.S."
# and "1996-08-22" stay whole, "Germany's" -> "Germany 's", "don't" -> "do n't", "lamb." ->
# "lamb .". Pre-split tokens skip this.
CONTRACTIONS = "s|re|ve|ll|d|m"  # 's 're 've 'll 'd 'm stand alone
WORD_CHARACTER = r"[\p{L}\p{N}]"
SENTENCE_SPLIT = pre_tokenizers.Sequence(
    [
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Split(
            Regex(
                r"(?:\p{L}\.){2,}"  # abbreviations: U.S., U.K.
                rf"|{WORD_CHARACTER}+(?=n't\b)|n't\b"  # do n't
                rf"|'(?:{CONTRACTIONS})\b"
                # words, numbers, dates, with inner - . , : / & or a non-contraction apostrophe
                rf"|{WORD_CHARACTER}+(?:(?:[-.,:/&]|'(?!(?:{CONTRACTIONS})\b)){WORD_CHARACTER}+)*"
                r"|\S"  # any other character alone
            ),
            behavior="isolated",
        ),
    ]
)


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]
    lines: tuple[int, ...]  # the source line of each token, for errors and reports


# -- reading -----------------------------------------------------------------------------------
def read_conll(path: str | Path) -> list[Sentence]:
    """The sentences of a CoNLL file with their tags as written (``O``, ``B-X`` or ``I-X``).

    The first token line fixes the column count (2 or 4); a line with another count, or a tag
    that is not ``O``/``B-<type>``/``I-<type>``, raises :class:`DataFormatError` naming the line.
    """
    sentences: list[Sentence] = []
    tokens: list[tuple[str, str, int]] = []
    columns_in_file = None

    def end_sentence() -> None:
        if tokens:
            words, tags, lines = zip(*tokens, strict=True)
            sentences.append(Sentence(words, tags, lines))
            tokens.clear()

    for number, line in read_lines(path):
        columns = line.split()
        if not columns:
            end_sentence()
            continue
        if columns[0] == DOCSTART:
            end_sentence()
            continue
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
        tag = columns[-1]
        if not is_valid_tag(tag, "IOB2"):
            raise DataFormatError(path, number, "a tag O, B-<type> or I-<type>", repr(tag))
        tokens.append((columns[0], tag, number))
    end_sentence()
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
        for previous, tag, line in zip(
            ("O", *sentence.tags), sentence.tags, sentence.lines, strict=False
        ):
            if breaks_scheme(previous, tag, scheme):
                if not repair_tags:
                    raise DataFormatError(
                        path,
                        line,
                        f"an {scheme} tag sequence",
                        f"{tag!r} after {previous!r} (set data.repair_tags=true to read it "
                        "as conlleval does)",
                    )
                repaired += 1
    if repaired:
        log.warning("%s: %d tags break %s; read as conlleval reads them", path, repaired, scheme)
    return [replace(s, tags=tuple(convert(s.tags, tag_scheme))) for s in sentences]


def check_labels(path: str | Path, sentences: Sequence[Sentence], labels: Sequence[str]) -> None:
    """Every tag must be one the model was trained with: an unknown type names its line."""
    known = set(labels)
    for sentence in sentences:
        for tag, line in zip(sentence.tags, sentence.lines, strict=True):
            if tag not in known:
                types = sorted({split_tag(label)[1] for label in labels} - {""})
                raise DataFormatError(
                    path, line, f"an entity type seen in training {types}", repr(tag)
                )


# -- features ----------------------------------------------------------------------------------
def casing(word: str) -> str:
    """The word's casing class (one of :data:`CASINGS`)."""
    letters = [c for c in word if c.isalpha()]
    if word.isdigit():
        return "digits"
    if any(c.isdigit() for c in word):
        return "has_digit"
    if not letters:
        return "other"
    if all(c.islower() for c in letters):
        return "lower"
    if all(c.isupper() for c in letters):
        return "UPPER"
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return "Title"
    return "mixed"


def word_level_vocabulary(counts: Counter[str], min_frequency: int) -> dict[str, int]:
    """``<pad>`` 0, ``<unk>`` 1, then items seen ``min_frequency`` times, most frequent first."""
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    kept = sorted(
        (item for item, n in counts.items() if n >= min_frequency), key=lambda i: (-counts[i], i)
    )
    return {item: index for index, item in enumerate([PAD, UNK, *kept])}


def fit_word_tokenizer(
    sentences: Sequence[Sentence], min_frequency: int, lowercase: bool
) -> Tokenizer:
    """WordLevel over pre-split words: one id per word, ``<unk>`` for words not kept."""
    normalize = str.lower if lowercase else str
    counts = Counter(normalize(word) for s in sentences for word in s.words)
    tokenizer = Tokenizer(WordLevel(word_level_vocabulary(counts, min_frequency), unk_token=UNK))
    if lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tokenizer


def fit_char_tokenizer(sentences: Sequence[Sentence]) -> Tokenizer:
    """WordLevel over single characters (case kept): words are encoded as character lists."""
    counts = Counter(char for s in sentences for word in s.words for char in word)
    return Tokenizer(WordLevel(word_level_vocabulary(counts, 1), unk_token=UNK))


def split_sentence(text: str) -> list[str]:
    """A raw sentence split into CoNLL-like tokens."""
    return [piece for piece, _ in SENTENCE_SPLIT.pre_tokenize_str(text)]


def encode_sentences(
    sentences: Sequence[Sequence[str]],
    words: Tokenizer,
    chars: Tokenizer,
    max_word_length: int,
) -> dict[str, torch.Tensor]:
    """Pre-split sentences -> the tagger's padded inputs.

    ``words (B, T)`` and ``casing (B, T)`` ids, ``lengths (B,)``, ``chars (B, T, W)`` with
    ``char_lengths (B, T)`` (0 at padded tokens; words cut to their first ``max_word_length``
    characters).
    """
    word_ids, lengths = pad_batch(
        [e.ids for e in words.encode_batch([list(s) for s in sentences], is_pretokenized=True)],
        pad_id=words.token_to_id(PAD),
    )
    casing_ids, _ = pad_batch(
        [[CASINGS.index(casing(w)) for w in s] for s in sentences], pad_id=CASINGS.index(PAD)
    )
    # every real word's characters as one (N, W) batch, then scattered to its (B, T) position
    flat_words = [list(word[:max_word_length]) for s in sentences for word in s]
    flat_chars, flat_lengths = pad_batch(
        [e.ids for e in chars.encode_batch(flat_words, is_pretokenized=True)],
        pad_id=chars.token_to_id(PAD),
    )
    real = torch.arange(word_ids.shape[1])[None, :] < lengths[:, None]  # (B, T)
    char_tensor = torch.full(
        (*word_ids.shape, flat_chars.shape[1]), chars.token_to_id(PAD), dtype=torch.long
    )
    char_tensor[real] = flat_chars
    char_lengths = torch.zeros(word_ids.shape, dtype=torch.long)
    char_lengths[real] = flat_lengths
    return {
        "words": word_ids,
        "casing": casing_ids,
        "chars": char_tensor,
        "char_lengths": char_lengths,
        "lengths": lengths,
    }


def read_word_vectors(path: str | Path, vocabulary: dict[str, int]) -> torch.Tensor:
    """An embedding matrix ``(V, D)`` from a GloVe-format text file (``word v1 ... vD``).

    A vocabulary word takes the vector of the same word, else of its lowercase form; the rest
    (and ``<unk>``) are drawn from N(0, s^2), s the spread of the found vectors; ``<pad>`` is 0.
    A word2vec-style first line ``<count> <dim>`` is skipped. Lines whose dimension differs
    from the first vector's raise :class:`DataFormatError`.
    """
    wanted = set(vocabulary) | {w.lower() for w in vocabulary}
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
            except ValueError:
                raise DataFormatError(
                    path, number, "numbers after the word", repr(line[:60])
                ) from None
    if dim is None:
        raise DataFormatError(path, None, "at least one word vector", "none")
    found = {
        word: vectors[word] if word in vectors else vectors[word.lower()]
        for word in vocabulary
        if word in vectors or word.lower() in vectors
    }
    values = torch.tensor(list(found.values())) if found else torch.zeros(0, dim)
    spread = float(values.std()) if values.numel() > 1 else 1.0 / math.sqrt(dim)
    matrix = torch.randn(len(vocabulary), dim) * spread
    for word, vector in found.items():
        matrix[vocabulary[word]] = torch.tensor(vector)
    matrix[vocabulary[PAD]] = 0.0
    log.info("%s: vectors for %d of %d vocabulary words", path, len(found), len(vocabulary))
    return matrix


# -- batching ----------------------------------------------------------------------------------
class CoNLLDataModule(L.LightningDataModule):
    """CoNLL train/val(/test) files, vocabularies fitted on train, padded tagging batches.

    Once fitted (or restored with :meth:`load_state_dict`), ``setup("test")`` with a
    ``test_path`` reads that file only: that is how a trained model is scored on a new file.
    A tag whose type the training split never had is an error naming its line.

    Batches are dicts: ``words, casing (B, T)``, ``chars (B, T, W)``, ``char_lengths (B, T)``,
    ``lengths (B,)``, ``tags (B, T)`` (label ids, 0 at padding), and the raw ``tokens`` and
    ``gold`` tag strings for reports.
    """

    def __init__(
        self,
        train_path: str,
        val_path: str,
        test_path: str | None = None,
        input_scheme: str = "auto",
        tag_scheme: str = "BIOES",
        repair_tags: bool = True,
        lowercase: bool = False,
        min_frequency: int = 1,
        max_word_length: int = 20,
        embeddings_path: str | None = None,
        seed: int = 42,
        batch_size: int = 32,
        num_workers: int = 0,
    ):
        super().__init__()
        if tag_scheme not in TRAINING_SCHEMES:
            raise ValueError(f"tag_scheme must be one of {TRAINING_SCHEMES}, got {tag_scheme!r}")
        if max_word_length < 1:
            raise ValueError(f"max_word_length must be >= 1, got {max_word_length}")
        self.train_path = train_path
        self.val_path = val_path
        self.test_path = test_path
        self.input_scheme = input_scheme
        self.tag_scheme = tag_scheme
        self.repair_tags = repair_tags
        self.lowercase = lowercase
        self.min_frequency = min_frequency
        self.max_word_length = max_word_length
        self.embeddings_path = embeddings_path
        self.seed = seed
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.words: Tokenizer | None = None
        self.chars: Tokenizer | None = None
        self.labels: list[str] = []
        self.splits: dict[str, list[Sentence]] = {}

    # -- fitted state: what a trained model needs to read new sentences ------------------------
    def state_dict(self) -> dict[str, Any]:
        if self.words is None:
            return {}
        return {
            "tokenizers": {"words": self.words.to_str(), "chars": self.chars.to_str()},
            "labels": list(self.labels),
            "tag_scheme": self.tag_scheme,
            "max_word_length": self.max_word_length,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.words = Tokenizer.from_str(state["tokenizers"]["words"])
            self.chars = Tokenizer.from_str(state["tokenizers"]["chars"])
            self.labels = list(state["labels"])
            self.tag_scheme = state["tag_scheme"]
            self.max_word_length = state["max_word_length"]

    def input_files(self) -> dict[str, Path]:
        """The files ``setup`` read, by role: each MLflow run records them."""
        if self.words is not None and "train" not in self.splits and self.test_path:
            return {"test": Path(self.test_path)}
        files = {"train": Path(self.train_path), "val": Path(self.val_path)}
        if self.test_path:
            files["test"] = Path(self.test_path)
        if self.embeddings_path:
            files["embeddings"] = Path(self.embeddings_path)
        return files

    def model_kwargs(self) -> dict[str, Any]:
        """Vocabulary sizes, padding/unknown ids, labels and scheme; pretrained vectors if any."""
        assert self.words is not None, "call setup('fit') first"
        kwargs = {
            "vocab_size": self.words.get_vocab_size(),
            "char_vocab_size": self.chars.get_vocab_size(),
            "num_casings": len(CASINGS),
            "labels": list(self.labels),
            "tag_scheme": self.tag_scheme,
            "pad_id": self.words.token_to_id(PAD),
            "unk_id": self.words.token_to_id(UNK),
            "char_pad_id": self.chars.token_to_id(PAD),
        }
        if self.embeddings_path:
            kwargs["pretrained_embeddings"] = read_word_vectors(
                self.embeddings_path, self.words.get_vocab()
            )
        return kwargs

    # -- Lightning hooks -----------------------------------------------------------------------
    def read(self, path: str) -> list[Sentence]:
        return read_tagged_file(path, self.input_scheme, self.tag_scheme, self.repair_tags)

    def setup(self, stage: str | None = None) -> None:
        if self.words is not None and stage == "test" and self.test_path:
            self.splits["test"] = self.read(self.test_path)
            check_labels(self.test_path, self.splits["test"], self.labels)
            return
        if "train" in self.splits:
            return
        train = self.read(self.train_path)
        if self.words is None:
            self.words = fit_word_tokenizer(train, self.min_frequency, self.lowercase)
            self.chars = fit_char_tokenizer(train)
            types = {split_tag(tag)[1] for s in train for tag in s.tags} - {""}
            self.labels = scheme_labels(types, self.tag_scheme)
        self.splits = {"train": train, "val": self.read(self.val_path)}
        lengths = [len(s.words) for s in train]
        self.train_sampler = LengthBuckets(lengths, self.batch_size, self.seed)
        check_labels(self.val_path, self.splits["val"], self.labels)
        if self.test_path:
            self.splits["test"] = self.read(self.test_path)
            check_labels(self.test_path, self.splits["test"], self.labels)

    def collate(self, sentences: list[Sentence]) -> dict[str, Any]:
        batch = encode_sentences(
            [s.words for s in sentences], self.words, self.chars, self.max_word_length
        )
        index = {label: i for i, label in enumerate(self.labels)}
        batch["tags"], _ = pad_batch([[index[t] for t in s.tags] for s in sentences], pad_id=0)
        batch["tokens"] = [list(s.words) for s in sentences]
        batch["gold"] = [list(s.tags) for s in sentences]
        return batch

    def _loader(self, split: str) -> DataLoader:
        if not self.splits.get(split):
            raise RuntimeError(f"no {split} split: set data.{split}_path")
        sentences = self.splits[split]
        loader = partial(make_loader, sentences, self.collate, self.seed, self.num_workers)
        distributed = self.trainer is not None and self.trainer.world_size > 1
        if split == "train" and not distributed:
            return loader(batch_sampler=self.train_sampler)
        # under DDP, Lightning puts a distributed sampler on the training loader; it shuffles
        return loader(batch_size=self.batch_size, sampler=None)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
