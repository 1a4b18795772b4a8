"""Word- and character-level tokenizers from Hugging Face ``tokenizers``, fitted on the training
split only, and the padding of id sequences into batches.

A fitted tokenizer is one JSON document (``tokenizer.json``): it travels inside checkpoints and
MLflow models, so a trained model can always turn raw text into the ids it was trained on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.trainers import WordLevelTrainer
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
    tokenizer = Tokenizer(WordLevel(unk_token=UNK))
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="isolated")]
    )
    trainer = WordLevelTrainer(min_frequency=min_frequency, special_tokens=list(special_tokens))
    tokenizer.train_from_iterator(texts, trainer=trainer)
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
