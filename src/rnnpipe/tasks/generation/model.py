"""One-to-many: one input (a sentiment label, optionally a length bucket) in, a review out.

The seed's fourth form. A character- or word-level language model over the reviews, in which
what was asked for is both where the RNN starts and something it sees at every step:

    c_t = E_label[label_t] (+ E_length[bucket_t])       the one input, (B, T, C)
    h_0 = tanh(W_c c_0 + b_c)                           its learned projection: the first state
    x_t = [E_token[y_{t-1}] ; c_t]                      the previous token beside the input
    h_t = f(W_ih x_t + W_hh h_{t-1} + b_ih + b_hh)      VanillaRNN
    p(y_t | y_<t, c) = softmax(W_y h_t + b_y)           next-token distribution, y_0 = <s>

Training minimises -log p of every review and its closing ``</s>``: full BPTT on one review per
row, or truncated BPTT (``tbptt_steps``) on the concatenated stream of reviews, the hidden state
carried across chunks within a batch (:mod:`rnnpipe.training.tbptt`). Validation and test
report the loss per token, its perplexity and, for characters, bits per character. After the
test, ``samples_per_label`` reviews are generated for each label (:mod:`rnnpipe.decoding.sampling`)
and kept, with the real test reviews, in ``samples`` and ``test_reviews``: a sentiment model can
then read both (``scorer_uri``, :mod:`rnnpipe.tracking.classifier_agreement`), outside this module.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric

from rnnpipe.decoding.sampling import Sampling, generate
from rnnpipe.errors import InputRowError, shown
from rnnpipe.layers.dropout import EmbeddingDropout, LockedDropout
from rnnpipe.layers.embedding import word_embedding
from rnnpipe.rnn import LSTM
from rnnpipe.training.module import TaskModule, save_table
from rnnpipe.training.tbptt import RnnState, TruncatedBPTT, rnn_over_chunk

BUCKET_SEPARATOR = ":"  # an input is "<label>" or "<label>:<length bucket>"


class ReviewGenerator(TruncatedBPTT, TaskModule):
    input_columns = ("label",)
    input_description = "a 'label' column of sentiment labels (e.g. 'positive')"
    embedding_vocabularies = {"embedding": "tokenizer"}
    output_vocabularies = {"head": "tokenizer"}
    # length: only with length buckets; log_probability: of the review and its </s>, under the
    # distribution it was sampled from (rnnpipe.decoding.sampling)
    output_columns = ("label", "length", "review", "log_probability")
    time_keys = ("tokens", "targets", "labels", "buckets")
    unsaved_arguments = ("pretrained_embeddings",)  # data: the weights hold them once trained

    def __init__(
        self,
        vocab_size: int,
        labels: list[str],
        pad_id: int,
        unk_id: int,
        bos_id: int,
        eos_id: int,
        level: str,
        length_buckets: list[str] | None,
        length_bucket_counts: list[list[int]] | None,
        embedding_dim: int,
        freeze_embeddings: bool,
        condition_dim: int,
        hidden_size: int,
        cell: str,
        num_layers: int,
        nonlinearity: str,
        init: str,
        bptt: str,
        dropout: float,
        tbptt_steps: int | None,
        gradient_clip_val: float | None,
        sampling: dict[str, Any],
        samples_per_label: int,
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
        super().__init__(optimizer, scheduler, preprocessing, data_config, warmup, serving)
        self.embedding_dropout = EmbeddingDropout(embedding_dropout)
        self.locked_dropout = LockedDropout(locked_dropout)
        self.automatic_optimization = False  # truncated BPTT updates once per chunk
        self.sampling = Sampling(**sampling)
        if length_buckets and len(length_bucket_counts or []) != len(labels):
            raise ValueError("length_bucket_counts needs one row of counts per label")

        self.label_embedding = nn.Embedding(len(labels), condition_dim)
        self.bucket_embedding = (
            nn.Embedding(len(length_buckets), condition_dim) if length_buckets else None
        )
        self.initial_state = nn.Linear(condition_dim, num_layers * hidden_size)
        self.embedding = word_embedding(
            vocab_size, embedding_dim, pad_id, pretrained_embeddings, freeze_embeddings
        )
        self.rnn = self.recurrent_layer(embedding_dim + condition_dim, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

        self.val_nll = MeanMetric()
        self.test_nll = MeanMetric()
        self.samples: pd.DataFrame | None = None  # generated after the test
        self.test_reviews: list[tuple[str, str]] = []  # (label, text) of the real test reviews
        self.test_bits: list[tuple[int, float, int]] = []  # (line, bits, tokens) of each one

    # -- the model -----------------------------------------------------------------------------
    def condition(self, labels: Tensor, buckets: Tensor | None) -> Tensor:
        """``c``: the one input at every step, ``(B, T, C)`` from ``labels (B, T)``."""
        condition = self.label_embedding(labels)
        if self.bucket_embedding is not None:
            condition = condition + self.bucket_embedding(buckets)
        return condition

    def first_state(self, condition: Tensor) -> RnnState:
        """``h_0 (L, B, H)`` from the condition of the first step, ``(B, C)``; an LSTM's
        memory cell starts at zero beside it."""
        layers, hidden = self.hparams.num_layers, self.hparams.hidden_size
        state = torch.tanh(self.initial_state(condition))  # (B, L*H)
        h_0 = state.view(-1, layers, hidden).transpose(0, 1).contiguous()
        return (h_0, torch.zeros_like(h_0)) if isinstance(self.rnn, LSTM) else h_0

    def forward(
        self,
        tokens: Tensor,
        labels: Tensor,
        buckets: Tensor | None = None,
        hidden: RnnState | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, RnnState]:
        """``tokens, labels, buckets (B, T)`` -> next-token logits ``(B, T, V)`` and the state
        after the last step ``(L, B, H)``; ``hidden=None`` starts from the projected input."""
        condition = self.condition(labels, buckets)
        if hidden is None:
            hidden = self.first_state(condition[:, 0])
        # under truncated BPTT the dropout masks are drawn once per chunk
        embedded = self.locked_dropout(self.embedding_dropout(self.embedding, tokens))
        x = torch.cat([self.dropout(embedded), condition], dim=-1)
        output, hidden = rnn_over_chunk(self.rnn, x, hidden, lengths)
        return self.head(self.dropout(self.locked_dropout(output))), hidden

    def token_nll(
        self, batch: dict[str, Any], hidden: RnnState | None = None
    ) -> tuple[Tensor, Tensor, RnnState]:
        """Mean negative log-likelihood per target token (padding excluded), the number of
        tokens, and the state after the batch."""
        nll, _, hidden = self.row_nll(batch, hidden)
        tokens = (batch["targets"] != self.hparams.pad_id).sum()
        return nll.sum() / tokens, tokens, hidden

    def row_nll(
        self, batch: dict[str, Any], hidden: RnnState | None = None
    ) -> tuple[Tensor, Tensor, RnnState]:
        """Each row's summed negative log-likelihood in nats ``(B,)``, its number of target
        tokens ``(B,)``, and the state after the batch."""
        logits, hidden = self(
            batch["tokens"], batch["labels"], batch.get("buckets"), hidden, batch["lengths"]
        )
        targets = batch["targets"]
        nll = F.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=self.hparams.pad_id, reduction="none"
        )  # (B, T), 0 at padding
        return nll.sum(1), (targets != self.hparams.pad_id).sum(1), hidden

    # -- training (truncated BPTT, see TruncatedBPTT), validation, test ------------------------
    def chunk_step(self, chunk: dict[str, Any], hidden: RnnState | None) -> tuple[Tensor, RnnState]:
        nll, _, hidden = self.token_nll(chunk, hidden)
        return nll, hidden

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        nll, count, _ = self.token_nll(batch)
        self.val_nll.update(nll, weight=count)

    def on_test_epoch_start(self) -> None:
        self.test_reviews = []
        self.test_bits = []

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        nll, tokens, _ = self.row_nll(batch)
        self.test_nll.update(nll.sum() / tokens.sum(), weight=tokens.sum())
        self.test_reviews += self.decode_reviews(batch)
        bits = (nll / math.log(2)).tolist()
        self.test_bits += zip(batch["lines"], bits, tokens.tolist(), strict=True)

    def decode_reviews(self, batch: dict[str, Any]) -> list[tuple[str, str]]:
        """``(label, text)`` of each review of a one-review-per-row batch, from its targets."""
        tokenizer, labels = self.tokenizer(), self.hparams.labels
        rows = zip(
            batch["labels"][:, 0].tolist(),
            batch["targets"].tolist(),
            batch["lengths"].tolist(),
            strict=True,
        )
        return [(labels[label], tokenizer.decode(ids[: n - 1])) for label, ids, n in rows]

    def log_language_model_metrics(self, stage: str, nll_metric: MeanMetric) -> None:
        """Loss in nats per token, perplexity, and bits per character for a char model."""
        nll = self.log_token_nll(stage, nll_metric)
        if self.hparams.level == "char":
            self.log(f"{stage}/bits_per_char", nll / math.log(2))

    def on_validation_epoch_end(self) -> None:
        self.log_language_model_metrics("val", self.val_nll)

    def on_test_epoch_end(self) -> None:
        self.log_language_model_metrics("test", self.test_nll)
        self.test_reviews = self.gather(self.test_reviews)
        self.test_bits = self.gather(self.test_bits)
        self.samples = self.generate_samples()

    def generate_samples(self) -> pd.DataFrame:
        """``samples_per_label`` generated reviews for each label, numbered from 0."""
        per_label, labels = self.hparams.samples_per_label, self.hparams.labels
        samples = self.predict_texts([label for label in labels for _ in range(per_label)])
        samples.insert(0, "sample", list(range(per_label)) * len(labels))
        return samples

    def write_test_reports(self, directory: Path) -> list[Path]:
        """The generated samples; for a character model, each test review's bits and characters
        (its closing ``</s>`` counted as one, as in test/bits_per_char), which
        ``rnnpipe-compare`` resamples."""
        if self.samples is None:
            return []
        written = [save_table(self.samples, directory / "predictions" / "generated_reviews.tsv")]
        if self.hparams.level == "char":
            bits = pd.DataFrame(self.test_bits, columns=["line", "bits", "characters"])
            written.append(save_table(bits, directory / "predictions" / "test_bits_per_char.tsv"))
        return written

    def report_tags(self) -> dict[str, str]:
        return {"rnnpipe.generation.sampling": str(self.sampling)}

    # -- generation and serving ----------------------------------------------------------------
    def parse_input(self, row: int, record: dict[str, Any]) -> tuple[int, int | None]:
        """``"positive"`` or ``"positive:short"`` -> (label index, bucket index or None)."""
        text = record.get("label")
        labels, buckets = self.hparams.labels, self.hparams.length_buckets
        label, _, bucket = str(text).strip().partition(BUCKET_SEPARATOR)
        expected = f"one of {labels}"
        if buckets:
            expected += f", optionally followed by ':' and a length bucket of {buckets}"
        if label not in labels or (bucket and bucket not in (buckets or [])):
            raise InputRowError(row, "label", expected, shown(text))
        return labels.index(label), buckets.index(bucket) if bucket else None

    @torch.no_grad()
    def generate_reviews(
        self, labels: list[int], buckets: list[int] | None, sampling: Sampling
    ) -> list[tuple[str, float]]:
        """One review for each label index (and length bucket index), and its log-probability."""
        label_ids = torch.tensor(labels, device=self.device)[:, None]  # (B, 1): one step at a time
        bucket_ids = torch.tensor(buckets, device=self.device)[:, None] if buckets else None

        def step(tokens: Tensor, hidden: RnnState | None) -> tuple[Tensor, RnnState]:
            logits, hidden = self(tokens[:, None], label_ids, bucket_ids, hidden)
            return logits[:, 0], hidden

        hparams = self.hparams
        samples = generate(
            step,
            start=torch.full((len(labels),), hparams.bos_id, device=self.device),
            end_id=hparams.eos_id,
            sampling=sampling,
            forbidden_ids=(hparams.pad_id, hparams.unk_id, hparams.bos_id),
        )
        tokenizer = self.tokenizer()
        return [(tokenizer.decode(sample.tokens), sample.log_probability) for sample in samples]

    def draw_buckets(self, labels: list[int], given: list[int | None], seed: int) -> list[int]:
        """The requested length buckets; where none was asked for, one drawn (seeded) from how
        often the label's train reviews fall in each bucket."""
        counts = torch.tensor(self.hparams.length_bucket_counts, dtype=torch.float)
        generator = torch.Generator().manual_seed(seed)
        drawn = torch.multinomial(counts[labels], 1, generator=generator).squeeze(1).tolist()
        return [b if b is not None else d for b, d in zip(given, drawn, strict=True)]

    def serving_params(self) -> dict[str, Any]:
        """The sampling settings (model.sampling): ``temperature``, ``top_k`` (0: no cut),
        ``top_p`` (1.0: no nucleus), ``max_length`` (tokens) and ``seed``."""
        return Sampling(**self.hparams.sampling).as_params()

    def predict_inputs(
        self, requests: list[tuple[int, int | None]], **settings: Any
    ) -> list[dict[str, Any]]:
        """A generated review for each requested label (and length bucket), all in one batch
        under the sampling ``settings``: the sampling is seeded once for the whole request."""
        sampling = Sampling.from_params(**settings)
        labels = [label for label, _ in requests]
        rows: list[dict[str, Any]] = [{"label": self.hparams.labels[i]} for i in labels]
        buckets = None
        if self.hparams.length_buckets:
            buckets = self.draw_buckets(labels, [bucket for _, bucket in requests], sampling.seed)
            for row, bucket in zip(rows, buckets, strict=True):
                row["length"] = self.hparams.length_buckets[bucket]
        reviews = self.generate_reviews(labels, buckets, sampling) if labels else []
        for row, (review, log_probability) in zip(rows, reviews, strict=True):
            row["review"] = review
            row["log_probability"] = log_probability
        return rows

    def serving_example(self) -> pd.DataFrame:
        return pd.DataFrame({"label": list(self.hparams.labels)})
