"""Word-, subword- and character-level tokenizers from Hugging Face ``tokenizers``, fitted on the
training split only, and the padding of id sequences into batches.

A fitted tokenizer is one JSON document (``tokenizer.json``): it travels inside checkpoints and
MLflow models, so a trained model can always turn raw text into the ids it was trained on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, WordLevel
from tokenizers.trainers import BpeTrainer, WordLevelTrainer
from torch.nn.utils.rnn import pad_sequence

PAD = "<pad>"
UNK = "<unk>"
BOS = "<s>"
EOS = "</s>"
SEQUENCE_SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)  # ids 0-3 of a vocabulary that starts and ends text


def fit_word_tokenizer(
    texts: Iterable[str],
    min_frequency: int = 1,
    lowercase: bool = True,
    special_tokens: Sequence[str] = (PAD, UNK),
) -> Tokenizer:
    """Fit a WordLevel vocabulary: NFKC-normalised, optionally lowercased, punctuation split off.

    ``special_tokens`` get the first ids in order, so ``<pad>`` is 0 and ``<unk>`` is 1 by default.
    Words seen fewer than ``min_frequency`` times map to ``<unk>``.
    """
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    tokenizer = split_into_words(Tokenizer(WordLevel(unk_token=UNK)), lowercase)
    trainer = WordLevelTrainer(min_frequency=min_frequency, special_tokens=list(special_tokens))
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def fit_bpe_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    lowercase: bool = True,
    special_tokens: Sequence[str] = (PAD, UNK),
) -> Tokenizer:
    """Fit byte-pair encoding (Sennrich et al., 2016) within the words of
    :func:`fit_word_tokenizer`: merges of the training words' characters up to ``vocab_size``
    tokens, so a word never seen in training is spelled in pieces of seen ones ("dis", "gust",
    "ing") instead of becoming ``<unk>``; only a character never seen is ``<unk>``.
    """
    if vocab_size < len(special_tokens) + 1:
        raise ValueError(f"vocab_size must exceed the {len(special_tokens)} special tokens, "
                         f"got {vocab_size}")  # fmt: skip
    tokenizer = split_into_words(Tokenizer(BPE(unk_token=UNK)), lowercase)
    trainer = BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens))
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def split_into_words(tokenizer: Tokenizer, lowercase: bool) -> Tokenizer:
    """NFKC-normalised, optionally lowercased text, split at whitespace, punctuation split off."""
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="isolated")]
    )
    return tokenizer


def fit_character_tokenizer(
    texts: Iterable[str], min_frequency: int = 1, lowercase: bool = False
) -> Tokenizer:
    """A vocabulary of single characters (spaces and punctuation included), NFKC-normalised,
    optionally lowercased; decoding joins characters back without separators.

    ``<pad> <unk> <s> </s>`` get ids 0-3; characters seen fewer than ``min_frequency`` times
    map to ``<unk>``.
    """
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    tokenizer = Tokenizer(WordLevel(unk_token=UNK))
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    trainer = WordLevelTrainer(
        min_frequency=min_frequency, special_tokens=list(SEQUENCE_SPECIAL_TOKENS)
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def words_of_tokens(tokenizer: Tokenizer) -> dict[str, str]:
    """Each token of the vocabulary -> the text it stands for on its own: a word-start marker
    (``"▁man"``, SentencePiece's metaspace) decoded away; without a decoder, the token itself.
    So vocabularies of the same words, marked or not, can be matched word by word."""
    vocabulary = tokenizer.get_vocab()
    decoder = tokenizer.decoder
    return {token: decoder.decode([token]) if decoder else token for token in vocabulary}


def encode_texts(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids for each text (no special tokens added)."""
    return [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id sequences into ``tokens (B, T)`` and return their ``lengths (B,)``.

    An empty sequence is an error: the RNN needs at least one step per example.
    """
    lengths = torch.tensor([len(ids) for ids in sequences], dtype=torch.long)
    if len(sequences) == 0 or bool((lengths == 0).any()):
        raise ValueError("every sequence in a batch needs at least one token")
    tokens = pad_sequence(
        [torch.tensor(ids, dtype=torch.long) for ids in sequences],
        batch_first=True,
        padding_value=pad_id,
    )
    return tokens, lengths
