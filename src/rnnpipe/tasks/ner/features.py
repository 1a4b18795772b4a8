"""What the tagger reads of each token: a word id, a casing class and its characters.

* a word id from a WordLevel vocabulary fitted on the train split (optionally lowercased);
* a casing class (lower, Title, UPPER, digits, ...) that keeps what lowercasing throws away;
* its character ids, for a character-level RNN that can read words never seen in training.

Raw sentences are first split into CoNLL-like tokens (:func:`split_sentence`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel

from rnnpipe.data.tokenization import PAD, UNK, pad_batch
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
