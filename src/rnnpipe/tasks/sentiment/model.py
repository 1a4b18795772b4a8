"""Many-to-one: a review's tokens in, one sentiment label out.

    tokens (B, T) -> embedding (B, T, E) -> VanillaRNN -> outputs (B, T, D*H), h_n (L*D, B, H)
                  -> pool to one vector per review (B, D*H) -> dropout -> linear -> logits (B, C)

Pooling is the seed's "only one output": the last valid hidden state (the RNN's final memory of
the review), or the mean or max of the hidden states over the review's own steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from rnnpipe.data.tokenization import PAD, encode_texts, pad_batch
from rnnpipe.errors import InputRowError, shown
from rnnpipe.layers.dropout import EmbeddingDropout, LockedDropout
from rnnpipe.layers.embedding import word_embedding
from rnnpipe.training.module import TaskModule, length_mask, save_table
from rnnpipe.training.plots import save_confusion_matrix

POOLINGS = ("last", "mean", "max")


def classification_metrics(num_classes: int) -> MetricCollection:
    """The sentiment scorer: accuracy and macro-F1 (``acc``, ``f1``), the one every sentiment
    run (the RNN's and the baseline's) is scored by."""
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
        }
    )


def prediction_records(
    lines: list[int],
    texts: list[str],
    labels: torch.Tensor,
    probabilities: torch.Tensor,
    label_names: list[str],
) -> list[dict[str, Any]]:
    """One row of ``predictions/test_predictions.tsv`` per review (``rnnpipe-compare``'s items):
    its line, text, true and predicted label, and the predicted label's probability."""
    records = []
    for line, text, true, probs in zip(
        lines, texts, labels.tolist(), probabilities.tolist(), strict=True
    ):
        predicted = max(range(len(probs)), key=probs.__getitem__)
        records.append(
            {
                "line": line,
                "text": text,
                "label": label_names[true],
                "predicted": label_names[predicted],
                "probability": round(probs[predicted], 6),
            }
        )
    return records


class SentimentClassifier(TaskModule):
    input_description = "a 'text' column of raw reviews"
    embedding_vocabularies = {"embedding": "tokenizer"}
    ensemble_methods = {"forward": "mean"}
    output_columns = ("label", "probability")  # then probability_<label> for every class
    predict_batch_size = 256
    unsaved_arguments = ("pretrained_embeddings",)  # data: the weights hold them once trained

    def __init__(
        self,
        vocab_size: int,
        labels: list[str],
        pad_id: int,
        embedding_dim: int,
        freeze_embeddings: bool,
        hidden_size: int,
        cell: str,
        num_layers: int,
        nonlinearity: str,
        init: str,
        bidirectional: bool,
        bptt: str,
        pooling: str,
        dropout: float,
        optimizer: dict[str, Any],
        embedding_dropout: float,
        locked_dropout: float,
        scheduler: dict[str, Any] | None,
        warmup: dict[str, Any] | None,
        serving: dict[str, Any],
        pretrained_embeddings: torch.Tensor | None = None,
        preprocessing: dict[str, Any] | None = None,
        data_config: dict[str, Any] | None = None,
    ):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        super().__init__(optimizer, scheduler, preprocessing, data_config, warmup, serving)
        self.embedding_dropout = EmbeddingDropout(embedding_dropout)
        self.locked_dropout = LockedDropout(locked_dropout)
        directions = 2 if bidirectional else 1
        self.embedding = word_embedding(
            vocab_size, embedding_dim, pad_id, pretrained_embeddings, freeze_embeddings
        )
        self.rnn = self.recurrent_layer(embedding_dim, hidden_size, bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(directions * hidden_size, len(labels))

        num_classes = len(labels)
        metrics = classification_metrics(num_classes)
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.test_confusion = MulticlassConfusionMatrix(num_classes)
        self.test_records: list[dict[str, Any]] = []
        self.test_counts: list[list[int]] = []

    # -- the model -----------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``tokens (B, T)``, ``lengths (B,)`` -> class logits ``(B, C)``."""
        embedded = self.locked_dropout(self.embedding_dropout(self.embedding, tokens))
        outputs, final = self.rnn(embedded, lengths=lengths)
        outputs = self.locked_dropout(outputs)
        return self.head(self.dropout(self.pool(outputs, self.hidden_state(final), lengths)))

    def pool(self, outputs: torch.Tensor, h_n: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """One vector per review, ``(B, D*H)``, from the hidden states of its valid steps."""
        if self.hparams.pooling == "last":
            # h_n holds each direction's state after the review's own last step (the reverse
            # direction's after the first word): the top layer's D states side by side.
            directions = 2 if self.hparams.bidirectional else 1
            top_layer = h_n[-directions:]  # (D, B, H)
            return top_layer.transpose(0, 1).reshape(h_n.shape[1], -1)
        valid = length_mask(lengths, outputs.shape[1], outputs.device).unsqueeze(-1)  # (B, T, 1)
        if self.hparams.pooling == "mean":
            return (outputs * valid).sum(1) / valid.sum(1)
        return outputs.masked_fill(~valid, float("-inf")).max(1).values

    # -- training, validation, test ------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        logits = self(batch["tokens"], batch["lengths"])
        loss = F.cross_entropy(logits, batch["labels"])
        self.log(
            "train/loss", loss, on_step=False, on_epoch=True, batch_size=len(logits), sync_dist=True
        )
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logits = self(batch["tokens"], batch["lengths"])
        loss = F.cross_entropy(logits, batch["labels"])
        self.log("val/loss", loss, batch_size=len(logits), sync_dist=True)
        self.val_metrics.update(logits, batch["labels"])
        self.log_dict(self.val_metrics, batch_size=len(logits))

    def on_test_epoch_start(self) -> None:
        self.test_records = []

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logits = self(batch["tokens"], batch["lengths"])
        loss = F.cross_entropy(logits, batch["labels"])
        self.log("test/loss", loss, batch_size=len(logits), sync_dist=True)
        self.test_metrics.update(logits, batch["labels"])
        self.log_dict(self.test_metrics, batch_size=len(logits))
        self.test_confusion.update(logits, batch["labels"])
        self.test_records += prediction_records(
            batch["lines"], batch["texts"], batch["labels"], logits.softmax(-1), self.hparams.labels
        )

    def on_test_epoch_end(self) -> None:
        # every rank takes part in these; the reports are then written by rank 0 alone
        self.test_records = self.gather(self.test_records)
        self.test_counts = self.test_confusion.compute().tolist()
        self.test_confusion.reset()

    def write_test_reports(self, directory: Path) -> list[Path]:
        predictions = save_table(
            pd.DataFrame(self.test_records), directory / "predictions" / "test_predictions.tsv"
        )
        matrix = save_confusion_matrix(
            self.test_counts, self.hparams.labels, directory / "plots" / "confusion_matrix.png"
        )
        return [predictions, matrix]

    # -- serving -------------------------------------------------------------------------------
    def parse_input(self, row: int, record: dict[str, Any]) -> list[int]:
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputRowError(row, "text", "a non-empty review", shown(text))
        [ids] = encode_texts(self.tokenizer(), [text])
        self.check_input_length(row, "text", len(ids))
        return ids

    def prediction_columns(self) -> list[str]:
        return [*self.output_columns, *self.class_columns()]

    def class_columns(self) -> list[str]:
        """``probability_<label>`` of each class, in the order of the labels."""
        return [f"probability_{label}" for label in self.hparams.labels]

    def predict_batch(self, encoded: list[list[int]]) -> list[dict[str, Any]]:
        """For each encoded review: the label, its probability, and P(class | review) of
        every class (they sum to 1)."""
        tokens, lengths = pad_batch(encoded, pad_id=self.tokenizer().token_to_id(PAD))
        probabilities = self(tokens.to(self.device), lengths).softmax(-1).cpu().tolist()
        labels, columns = self.hparams.labels, self.class_columns()
        rows = []
        for probs in probabilities:
            predicted = max(range(len(probs)), key=probs.__getitem__)
            rows.append(
                {
                    "label": labels[predicted],
                    "probability": probs[predicted],
                    **dict(zip(columns, probs, strict=True)),
                }
            )
        return rows

    def serving_example(self) -> pd.DataFrame:
        return pd.DataFrame({"text": ["The food was delicious.", "Cold soup and a rude waiter."]})
