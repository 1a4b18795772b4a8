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
from rnnpipe.plots import save_confusion_matrix
from rnnpipe.rnn import VanillaRNN
from rnnpipe.tasks.base import TaskModule

POOLINGS = ("last", "mean", "max")
MAX_PREDICT_TOKENS = 5000  # a review, not a book: longer inputs are refused at predict time


class SentimentClassifier(TaskModule):
    task_name = "sentiment"
    input_description = "raw reviews"

    def __init__(
        self,
        vocab_size: int,
        labels: list[str],
        pad_id: int = 0,
        embedding_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bidirectional: bool = False,
        bptt: str = "manual",
        pooling: str = "last",
        dropout: float = 0.3,
        optimizer: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        preprocessing: dict[str, Any] | None = None,
        data_config: dict[str, Any] | None = None,
    ):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        super().__init__(
            optimizer or {"_target_": "torch.optim.AdamW"}, scheduler, preprocessing, data_config
        )
        self.save_hyperparameters(ignore=["preprocessing", "data_config"], logger=False)
        directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.rnn = VanillaRNN(
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            nonlinearity=nonlinearity,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
            bptt=bptt,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(directions * hidden_size, len(labels))

        num_classes = len(labels)
        metrics = MetricCollection(
            {
                "acc": MulticlassAccuracy(num_classes, average="micro"),
                "f1": MulticlassF1Score(num_classes, average="macro"),
            }
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.test_confusion = MulticlassConfusionMatrix(num_classes)
        self.test_records: list[dict[str, Any]] = []
        self.test_counts: list[list[int]] = []

    # -- the model -----------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``tokens (B, T)``, ``lengths (B,)`` -> class logits ``(B, C)``."""
        outputs, h_n = self.rnn(self.embedding(tokens), lengths=lengths)
        return self.head(self.dropout(self.pool(outputs, h_n, lengths)))

    def pool(self, outputs: torch.Tensor, h_n: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """One vector per review, ``(B, D*H)``, from the hidden states of its valid steps."""
        if self.hparams.pooling == "last":
            # h_n holds each direction's state after the review's own last step (the reverse
            # direction's after the first word): the top layer's D states side by side.
            directions = 2 if self.hparams.bidirectional else 1
            top_layer = h_n[-directions:]  # (D, B, H)
            return top_layer.transpose(0, 1).reshape(h_n.shape[1], -1)
        steps = torch.arange(outputs.shape[1], device=outputs.device)
        valid = (steps[None, :] < lengths.to(outputs.device)[:, None]).unsqueeze(-1)  # (B, T, 1)
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
        probabilities = logits.softmax(-1)
        labels = self.hparams.labels
        for line, text, true, probs in zip(
            batch["lines"],
            batch["texts"],
            batch["labels"].tolist(),
            probabilities.tolist(),
            strict=True,
        ):
            predicted = max(range(len(probs)), key=probs.__getitem__)
            self.test_records.append(
                {
                    "line": line,
                    "text": text,
                    "label": labels[true],
                    "predicted": labels[predicted],
                    "probability": round(probs[predicted], 6),
                }
            )

    def on_test_epoch_end(self) -> None:
        # every rank takes part in these; the reports are then written by rank 0 alone
        self.test_records = self.gather(self.test_records)
        self.test_counts = self.test_confusion.compute().tolist()
        self.test_confusion.reset()

    def write_test_reports(self, directory: Path) -> list[Path]:
        predictions = directory / "predictions" / "test_predictions.tsv"
        predictions.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(self.test_records).to_csv(predictions, sep="\t", index=False)
        counts = self.test_counts
        matrix = save_confusion_matrix(
            counts, self.hparams.labels, directory / "plots" / "confusion_matrix.png"
        )
        return [predictions, matrix]

    # -- serving -------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_texts(self, texts: list[str], batch_size: int = 256) -> pd.DataFrame:
        """Label and its probability for each raw review text."""
        for row, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"text {row}: expected a non-empty review, got {text!r}")
        tokenizer = self.tokenizer()
        encoded = encode_texts(tokenizer, texts)
        for row, ids in enumerate(encoded):
            if len(ids) > MAX_PREDICT_TOKENS:
                raise ValueError(
                    f"text {row}: expected at most {MAX_PREDICT_TOKENS} tokens, got {len(ids)}"
                )
        labels = self.hparams.labels
        rows = []
        self.eval()
        for start in range(0, len(encoded), batch_size):
            tokens, lengths = pad_batch(
                encoded[start : start + batch_size], pad_id=tokenizer.token_to_id(PAD)
            )
            probabilities = self(tokens.to(self.device), lengths).softmax(-1).cpu()
            confidence, predicted = probabilities.max(-1)
            for index, probability in zip(predicted.tolist(), confidence.tolist(), strict=True):
                rows.append({"label": labels[index], "probability": probability})
        return pd.DataFrame(rows, columns=["label", "probability"])

    def serving_example(self) -> pd.DataFrame:
        return pd.DataFrame({"text": ["The food was delicious.", "Cold soup and a rude waiter."]})
