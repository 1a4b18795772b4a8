"""Sentiment data: restaurant reviews (``Review<TAB>Liked``) as padded word-id batches."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from rnnpipe.data.reviews import LABEL_NAMES, Review, ReviewFileDataModule
from rnnpipe.data.tokenization import (
    PAD,
    encode_texts,
    fit_bpe_tokenizer,
    fit_word_tokenizer,
    pad_batch,
)
from rnnpipe.data.word_vectors import require_word_tokens

TOKENIZERS = ("word", "bpe")


def check_tokenizer(tokenizer: str, embeddings_path: str | None) -> None:
    """Refuse a tokenizer the classifier has not, or word vectors for subword pieces."""
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"data.tokenizer: expected one of {TOKENIZERS}, got {tokenizer!r}")
    if embeddings_path:
        require_word_tokens("embeddings_path", "tokenizer", tokenizer)


class SentimentDataModule(ReviewFileDataModule):
    """Reviews split into train/val/test, a word tokenizer fitted on train, padded batches.

    Batches are dicts: ``tokens (B, T)``, ``lengths (B,)``, ``labels (B,)``, and the raw
    ``texts`` and source ``lines`` for prediction reports.
    """

    def __init__(
        self,
        path: str,
        test_path: str | None,
        val_fraction: float,
        test_fraction: float,
        split_seed: int,
        folds: int | None,
        fold: int | None,
        seed: int,
        tokenizer: str,
        vocab_size: int,
        min_frequency: int,
        lowercase: bool,
        max_tokens: int | None,
        length_policy: str,
        embeddings_path: str | None,
        batch_size: int,
        num_workers: int,
    ):
        super().__init__()
        check_tokenizer(tokenizer, embeddings_path)

    def fit(self, train: list[Review]) -> dict[str, Any]:
        hp, texts = self.hparams, (r.text for r in train)
        if hp.tokenizer == "word":
            tokenizer = fit_word_tokenizer(texts, hp.min_frequency, hp.lowercase)
        else:
            tokenizer = fit_bpe_tokenizer(texts, hp.vocab_size, hp.lowercase)
        return {"tokenizers": {"tokenizer": tokenizer.to_str()}, "labels": list(LABEL_NAMES)}

    def prepare(self, split: str, reviews: list[Review]) -> list[Review]:
        """Reviews of more than ``max_tokens`` tokens cut after that many (or refused)."""
        tokenizer = self.preprocessing.tokenizer("tokenizer")
        path = self.source_of(split)
        kept = []
        for review, encoding in zip(
            reviews, tokenizer.encode_batch([r.text for r in reviews]), strict=True
        ):
            keep = self.token_limit(split, len(encoding.ids), path, review.line)
            if keep < len(encoding.ids):  # cut the text where its last kept token ends
                review = replace(review, text=review.text[: encoding.offsets[keep - 1][1]])
            kept.append(review)
        return kept

    def model_kwargs(self) -> dict[str, Any]:
        """Vocabulary size, labels and the padding id; pretrained vectors if any."""
        tokenizer = self.preprocessing.tokenizer("tokenizer")
        kwargs = {
            "vocab_size": tokenizer.get_vocab_size(),
            "labels": list(LABEL_NAMES),
            "pad_id": tokenizer.token_to_id(PAD),
        }
        vectors = self.word_vectors("embeddings_path", "tokenizer")
        return kwargs | ({"pretrained_embeddings": vectors} if vectors is not None else {})

    def collate(self, reviews: list[Review]) -> dict[str, Any]:
        tokenizer = self.preprocessing.tokenizer("tokenizer")
        tokens, lengths = pad_batch(
            encode_texts(tokenizer, [r.text for r in reviews]), pad_id=tokenizer.token_to_id(PAD)
        )
        return {
            "tokens": tokens,
            "lengths": lengths,
            "labels": torch.tensor([r.label for r in reviews], dtype=torch.long),
            "texts": [r.text for r in reviews],
            "lines": [r.line for r in reviews],
        }
