"""What the tagger reads of each token: a word id, a casing class and its characters.

* a word id from a WordLevel vocabulary fitted on the train split (optionally lowercased);
* a casing class (lower, Title, UPPER, digits, ...) that keeps what lowercasing throws away;
* its character ids, for a character-level RNN that can read words never seen in training.

Raw sentences are first split into CoNLL-like tokens (:func:`split_sentence`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from torch.nn.utils.rnn import pad_sequence

from rnnpipe.data.tokenization import PAD, UNK
from rnnpipe.tasks.ner.conll import Sentence

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


def fit_word_vocabulary(
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


def fit_character_vocabulary(sentences: Sequence[Sentence]) -> Tokenizer:
    """WordLevel over single characters (case kept): words are encoded as character lists."""
    counts = Counter(char for s in sentences for word in s.words for char in word)
    return Tokenizer(WordLevel(word_level_vocabulary(counts, 1), unk_token=UNK))


def split_sentence(text: str) -> list[str]:
    """A raw sentence split into CoNLL-like tokens."""
    return [piece for piece, _ in SENTENCE_SPLIT.pre_tokenize_str(text)]


@dataclass(frozen=True)
class TokenIds:
    """One sentence's inputs as id tensors: ``words (T,)``, ``casing (T,)``, ``chars (T, W)``
    (right-padded to its own longest word) and ``char_lengths (T,)``."""

    words: torch.Tensor
    casing: torch.Tensor
    chars: torch.Tensor
    char_lengths: torch.Tensor


def encode_token_ids(
    sentences: Sequence[Sequence[str]],
    words: Tokenizer,
    chars: Tokenizer,
    max_word_length: int,
) -> list[TokenIds]:
    """Pre-split sentences -> each one's :class:`TokenIds` (words cut to their first
    ``max_word_length`` characters). Done once per split at set-up: batching then only pads."""
    if any(len(s) == 0 for s in sentences):
        raise ValueError("every sequence in a batch needs at least one token")
    word_ids = words.encode_batch([list(s) for s in sentences], is_pretokenized=True)
    flat_words = [list(word[:max_word_length]) for s in sentences for word in s]
    char_ids = iter(chars.encode_batch(flat_words, is_pretokenized=True))
    char_pad = chars.token_to_id(PAD)
    encoded = []
    for sentence, word_encoding in zip(sentences, word_ids, strict=True):
        per_word = [torch.tensor(next(char_ids).ids, dtype=torch.long) for _ in sentence]
        encoded.append(
            TokenIds(
                words=torch.tensor(word_encoding.ids, dtype=torch.long),
                casing=torch.tensor([CASINGS.index(casing(w)) for w in sentence]),
                chars=pad_sequence(per_word, batch_first=True, padding_value=char_pad),
                char_lengths=torch.tensor([len(ids) for ids in per_word]),
            )
        )
    return encoded


def pad_token_ids(
    sentences: Sequence[TokenIds], pad_id: int, char_pad_id: int
) -> dict[str, torch.Tensor]:
    """A batch of :class:`TokenIds` padded: ``words (B, T)`` and ``casing (B, T)`` ids,
    ``lengths (B,)``, ``chars (B, T, W)`` with ``char_lengths (B, T)`` (0 at padded tokens)."""
    lengths = torch.tensor([len(s.words) for s in sentences])
    chars = torch.full(
        (len(sentences), int(lengths.max()), max(s.chars.shape[1] for s in sentences)),
        char_pad_id,
        dtype=torch.long,
    )
    for row, sentence in enumerate(sentences):
        chars[row, : sentence.chars.shape[0], : sentence.chars.shape[1]] = sentence.chars
    return {
        "words": pad_sequence([s.words for s in sentences], True, padding_value=pad_id),
        "casing": pad_sequence([s.casing for s in sentences], True, CASINGS.index(PAD)),
        "chars": chars,
        "char_lengths": pad_sequence([s.char_lengths for s in sentences], True, 0),
        "lengths": lengths,
    }


def encode_sentences(
    sentences: Sequence[Sequence[str]],
    words: Tokenizer,
    chars: Tokenizer,
    max_word_length: int,
) -> dict[str, torch.Tensor]:
    """Pre-split sentences -> the tagger's padded inputs (:func:`pad_token_ids`)."""
    encoded = encode_token_ids(sentences, words, chars, max_word_length)
    return pad_token_ids(encoded, words.token_to_id(PAD), chars.token_to_id(PAD))
