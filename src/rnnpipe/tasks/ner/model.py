"""Many-to-many, aligned: one entity tag per token (named-entity recognition, CoNLL-2003).

    words (B, T) -> word embedding (B, T, E)
    casing (B, T) -> casing embedding (B, T, K)                                  (casing_dim > 0)
    chars (B, T, W) -> char embedding -> bidirectional VanillaRNN over each word's characters
                    -> both directions' final states (B, T, 2*Hc)          (char_hidden_size > 0)
    concatenated -> dropout -> bidirectional VanillaRNN (num_layers) -> (B, T, 2*H)
                 -> dropout -> linear -> tag scores (B, T, C)
                 -> softmax per token, or a linear-chain CRF over the sentence     (crf=true)

Padded positions are masked out of the loss and the metrics. Decoding never produces a tag
sequence the scheme forbids (``I-X`` after ``O``): the CRF's constrained Viterbi, or
(``constrained_decoding``) Viterbi over the per-token log-probabilities with only the scheme's
constraints; plain per-token argmax otherwise. Entities are scored as conlleval scores them.

Served, each decoded tag comes with its probability: the CRF's marginal P(y_t = tag | sentence)
(forward-backward, every tag sequence through it summed), or without a CRF the token's softmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassConfusionMatrix

from rnnpipe.atomic_files import written_whole
from rnnpipe.errors import InputRowError, shown
from rnnpipe.layers.crf import LinearChainCRF, viterbi
from rnnpipe.layers.dropout import EmbeddingDropout, LockedDropout
from rnnpipe.layers.embedding import word_embedding
from rnnpipe.tasks.ner.features import encode_sentences, split_sentence
from rnnpipe.tasks.ner.metrics import EntityScores, count_chunks, micro_scores, scores_by_type
from rnnpipe.tasks.ner.schemes import allowed_transition, read_chunks, split_tag
from rnnpipe.training.module import TaskModule, length_mask, save_table
from rnnpipe.training.plots import save_confusion_matrix


def scheme_constraints(
    labels: Sequence[str], scheme: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``allowed (C, C)``, ``allowed_start (C,)``, ``allowed_end (C,)``: the scheme's moves."""
    allowed = torch.tensor([[allowed_transition(a, b, scheme) for b in labels] for a in labels])
    start = torch.tensor([allowed_transition(None, b, scheme) for b in labels])
    end = torch.tensor([allowed_transition(a, None, scheme) for a in labels])
    return allowed, start, end


CHARACTER_GROUPS = 3  # length groups the character RNN reads a batch's words in


def length_groups(lengths: torch.Tensor, groups: int) -> list[tuple[int, int]]:
    """``(start, end)`` of at most ``groups`` runs of non-increasing ``lengths``, each but the
    last holding the lengths above half of its first (so each is at most 2x padded)."""
    bounds, start = [], 0
    while start < len(lengths) and len(bounds) < groups - 1:
        end = int((lengths > lengths[start] // 2).sum())
        bounds.append((start, end))
        start = end
    if start < len(lengths):
        bounds.append((start, len(lengths)))
    return bounds


def sentence_entities(line: int, gold: list[str], predicted: list[str]) -> dict[str, int]:
    """One sentence's entity true positives, false positives and false negatives, as conlleval
    counts chunks: summed over sentences they give the micro F1 (2 TP / (2 TP + FP + FN))."""
    counts = micro_scores(count_chunks(gold, predicted))
    return {
        "line": line,
        "true_positives": counts.correct,
        "false_positives": counts.predicted - counts.correct,
        "false_negatives": counts.gold - counts.correct,
    }


class EntityTagger(TaskModule):
    input_columns = ("text", "tokens")
    input_description = "a 'text' column of raw sentences or a 'tokens' column of token lists"
    embedding_vocabularies = {"embedding": "words", "char_embedding": "chars"}
    ensemble_methods = {"forward": "mean"}
    output_columns = ("tagged", "entities", "tag_probabilities")
    unsaved_arguments = ("pretrained_embeddings",)

    def __init__(
        self,
        vocab_size: int,
        char_vocab_size: int,
        num_casings: int,
        labels: list[str],
        tag_scheme: str,
        pad_id: int,
        unk_id: int,
        char_pad_id: int,
        embedding_dim: int,
        freeze_embeddings: bool,
        casing_dim: int,
        char_embedding_dim: int,
        char_hidden_size: int,
        hidden_size: int,
        cell: str,
        num_layers: int,
        nonlinearity: str,
        init: str,
        bptt: str,
        dropout: float,
        word_dropout: float,
        crf: bool,
        constrained_decoding: bool,
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
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), got {word_dropout!r}")
        super().__init__(optimizer, scheduler, preprocessing, data_config, warmup, serving)
        self.embedding_dropout = EmbeddingDropout(embedding_dropout)
        self.locked_dropout = LockedDropout(locked_dropout)
        self.embedding = word_embedding(
            vocab_size, embedding_dim, pad_id, pretrained_embeddings, freeze_embeddings
        )
        features = embedding_dim + casing_dim + 2 * char_hidden_size
        # the sentence's RNN first: the first of recurrent_layers(), which callbacks watch
        self.rnn = self.recurrent_layer(features, hidden_size, bidirectional=True)
        if casing_dim:
            self.casing_embedding = nn.Embedding(num_casings, casing_dim, padding_idx=0)
        if char_hidden_size:
            self.char_embedding = nn.Embedding(
                char_vocab_size, char_embedding_dim, padding_idx=char_pad_id
            )
            self.char_rnn = self.recurrent_layer(
                char_embedding_dim, char_hidden_size, bidirectional=True, num_layers=1
            )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, len(labels))

        allowed, allowed_start, allowed_end = scheme_constraints(labels, tag_scheme)
        if crf:
            self.crf = LinearChainCRF(allowed, allowed_start, allowed_end)
        # the scheme alone as Viterbi scores: 0 where allowed, -inf where forbidden
        forbidden = float("-inf")
        self.register_buffer(
            "scheme_start", torch.zeros(len(labels)).masked_fill(~allowed_start, forbidden)
        )
        self.register_buffer(
            "scheme_moves", torch.zeros(allowed.shape).masked_fill(~allowed, forbidden)
        )
        self.register_buffer(
            "scheme_end", torch.zeros(len(labels)).masked_fill(~allowed_end, forbidden)
        )

        types = sorted({split_tag(label)[1] for label in labels} - {""})
        self.val_scores = EntityScores(types)
        self.test_scores = EntityScores(types)
        self.test_confusion = MulticlassConfusionMatrix(len(labels))
        self.test_sentences: list[tuple[int, list[str], list[str], list[str]]] = []
        self.test_table: pd.DataFrame | None = None
        self.test_counts: list[list[int]] = []

    # -- the model -----------------------------------------------------------------------------
    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        """Tag scores ``(B, T, C)`` for a batch of
        :func:`~rnnpipe.tasks.ner.features.encode_sentences` (or a collated one)."""
        words = batch["words"]
        if self.training and self.hparams.word_dropout > 0:
            # some known words become <unk>, so the <unk> embedding learns what unseen words need
            dropped = torch.rand(words.shape, device=words.device) < self.hparams.word_dropout
            words = words.masked_fill(dropped & (words != self.hparams.pad_id), self.hparams.unk_id)
        features = [self.embedding_dropout(self.embedding, words)]
        if self.hparams.casing_dim:
            features.append(self.casing_embedding(batch["casing"]))
        if self.hparams.char_hidden_size:
            features.append(self.char_features(batch["chars"], batch["char_lengths"]))
        inputs = self.dropout(self.locked_dropout(torch.cat(features, -1)))
        outputs, _ = self.rnn(inputs, lengths=batch["lengths"])
        return self.head(self.dropout(self.locked_dropout(outputs)))

    def char_features(self, chars: torch.Tensor, char_lengths: torch.Tensor) -> torch.Tensor:
        """``chars (B, T, W)`` -> ``(B, T, 2*Hc)``: each word's forward state after its last
        character and backward state after its first, zeros at padded words."""
        # The real words, longest first (sorted as ids, so the RNN need not sort them again),
        # read in a few groups of similar length, each padded only to its own longest word: a
        # batch holds about a thousand words of 1 to 20 characters, and padding them all to the
        # longest would more than double the RNN's work.
        lengths, words = char_lengths.flatten().sort(descending=True, stable=True)
        real = int((lengths > 0).sum())
        lengths, words = lengths[:real].cpu(), words[:real]
        word_chars = chars.flatten(0, 1).index_select(0, words)
        per_group = []
        for start, end in length_groups(lengths, CHARACTER_GROUPS):
            group_chars = word_chars[start:end, : int(lengths[start])]
            _, final = self.char_rnn(self.char_embedding(group_chars), lengths=lengths[start:end])
            h_n = self.hidden_state(final)
            per_group.append(h_n.transpose(0, 1).reshape(end - start, -1))  # (n, 2*Hc)
        per_word = torch.cat(per_group)
        out = per_word.new_zeros(chars.shape[0] * chars.shape[1], per_word.shape[1])
        return out.index_copy(0, words, per_word).view(*chars.shape[:2], -1)

    def loss(self, scores: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean per real token: the CRF's negative log-likelihood, or cross-entropy."""
        if self.hparams.crf:
            return self.crf(scores, tags, mask).sum() / mask.sum()
        return F.cross_entropy(scores[mask], tags[mask])

    def decode(self, scores: torch.Tensor, mask: torch.Tensor) -> list[list[str]]:
        """The predicted tag strings of each sentence."""
        if self.hparams.crf:
            paths = self.crf.decode(scores, mask)
        elif self.hparams.constrained_decoding:
            log_probs = scores.log_softmax(-1)
            paths = viterbi(log_probs, mask, self.scheme_start, self.scheme_moves, self.scheme_end)
        else:
            lengths = mask.sum(1).tolist()
            paths = [row[:n] for row, n in zip(scores.argmax(-1).tolist(), lengths, strict=True)]
        labels = self.hparams.labels
        return [[labels[i] for i in path] for path in paths]

    def tag_probabilities(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """P(y_t = j | sentence), ``(B, T, C)``: the CRF's marginals, else each token's
        softmax (what a tagger without a CRF is trained on)."""
        if self.hparams.crf:
            return self.crf.marginals(scores, mask)
        return scores.softmax(-1)

    # -- training, validation, test ------------------------------------------------------------
    def _step(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scores = self(batch)
        mask = length_mask(batch["lengths"], scores.shape[1], scores.device)
        return scores, mask, self.loss(scores, batch["tags"], mask)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        _, _, loss = self._step(batch)
        self.log(
            "train/loss",
            loss,
            on_step=False,
            on_epoch=True,
            batch_size=len(batch["tokens"]),
            sync_dist=True,
        )
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        scores, mask, loss = self._step(batch)
        self.log("val/loss", loss, batch_size=len(batch["tokens"]), sync_dist=True)
        self.val_scores.update(batch["gold"], self.decode(scores, mask))

    def on_validation_epoch_end(self) -> None:
        for name, value in self.val_scores.compute().items():
            self.log(f"val/{name}", value)
        self.val_scores.reset()

    def on_test_epoch_start(self) -> None:
        self.test_sentences = []
        self.test_table = None

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        scores, mask, loss = self._step(batch)
        self.log("test/loss", loss, batch_size=len(batch["tokens"]), sync_dist=True)
        predicted = self.decode(scores, mask)
        self.test_scores.update(batch["gold"], predicted)
        index = {label: i for i, label in enumerate(self.hparams.labels)}
        predicted_ids = torch.tensor([index[tag] for tags in predicted for tag in tags])
        self.test_confusion.update(predicted_ids.to(self.device), batch["tags"][mask])
        self.test_sentences += zip(
            batch["lines"], batch["tokens"], batch["gold"], predicted, strict=True
        )

    def on_test_epoch_end(self) -> None:
        for name, value in self.test_scores.compute().items():
            self.log(f"test/{name}", value)
        counts = self.test_scores.counts()
        rows = [{"type": t, **vars(s)} for t, s in scores_by_type(counts).items()]
        rows.append({"type": "all (micro)", **vars(micro_scores(counts))})
        for row in rows[:-1]:
            self.log(f"test/f1_{row['type']}", row["f1"])
        self.test_table = pd.DataFrame(rows).round(4)
        self.test_scores.reset()
        # every rank takes part in these; the reports are then written by rank 0 alone
        self.test_sentences = self.gather(self.test_sentences)
        self.test_counts = self.test_confusion.compute().tolist()
        self.test_confusion.reset()

    def write_test_reports(self, directory: Path) -> list[Path]:
        """The predictions in CoNLL format, each sentence's entity counts (by its first line:
        what ``rnnpipe-compare`` resamples), the per-type scores, the tag confusion matrix."""
        if self.test_table is None:
            return []
        predictions = directory / "predictions" / "test_predictions.tsv"
        with written_whole(predictions) as partial, partial.open("w", encoding="utf-8") as out:
            for _, tokens, gold, predicted in self.test_sentences:
                for row in zip(tokens, gold, predicted, strict=True):
                    out.write("\t".join(row) + "\n")
                out.write("\n")
        entities = save_table(
            pd.DataFrame(
                [sentence_entities(line, gold, predicted)
                 for line, _, gold, predicted in self.test_sentences]
            ),
            directory / "predictions" / "test_entities.tsv",
        )  # fmt: skip
        table = save_table(self.test_table, directory / "metrics" / "entity_scores_by_type.tsv")
        matrix = save_confusion_matrix(
            self.test_counts,
            self.hparams.labels,
            directory / "plots" / "tag_confusion_matrix.png",
        )
        return [predictions, entities, table, matrix]

    def report_tags(self) -> dict[str, str]:
        if self.hparams.crf:
            decoding = "crf-viterbi"
        else:
            decoding = "constrained-viterbi" if self.hparams.constrained_decoding else "argmax"
        return {
            "rnnpipe.ner.scoring": "conlleval (exact chunk match; micro P/R/F1 over all chunks)",
            "rnnpipe.ner.tag_scheme": self.hparams.tag_scheme,
            "rnnpipe.ner.decoding": decoding,
        }

    # -- serving -------------------------------------------------------------------------------
    def parse_input(self, row: int, record: dict[str, Any]) -> list[str]:
        """A row's ``tokens`` (a list of tokens), else its ``text`` split into CoNLL-like tokens."""
        tokens = record.get("tokens")
        if tokens is not None and not (isinstance(tokens, float) and pd.isna(tokens)):
            tokens = list(tokens)
            if not tokens or not all(
                isinstance(t, str) and t and not any(c.isspace() for c in t) for t in tokens
            ):
                raise InputRowError(
                    row, "tokens", "a non-empty list of tokens without spaces", shown(tokens)
                )
            self.check_input_length(row, "tokens", len(tokens))
            return tokens
        text = record.get("text")
        tokens = split_sentence(text) if isinstance(text, str) else []
        if not tokens:
            raise InputRowError(row, "text", "a non-empty sentence", shown(text))
        self.check_input_length(row, "text", len(tokens))
        return tokens

    def predict_tokens(
        self, sentences: Sequence[Sequence[str]]
    ) -> tuple[list[list[str]], list[list[float]]]:
        """The predicted tags of pre-split sentences, and the probability of each."""
        batch = encode_sentences(
            sentences,
            self.tokenizer("words"),
            self.tokenizer("chars"),
            self.preprocessing["max_word_length"],
        )
        scores = self({k: v.to(self.device) for k, v in batch.items()})
        mask = length_mask(batch["lengths"], scores.shape[1], self.device)
        tags = self.decode(scores, mask)
        index = {label: i for i, label in enumerate(self.hparams.labels)}
        distributions = self.tag_probabilities(scores, mask).cpu().tolist()
        probabilities = [
            [distribution[t][index[tag]] for t, tag in enumerate(sentence_tags)]
            for distribution, sentence_tags in zip(distributions, tags, strict=True)
        ]
        return tags, probabilities

    def predict_batch(self, sentences: list[list[str]]) -> list[dict[str, Any]]:
        """One row per sentence: ``tagged`` (token, tag) pairs, ``entities`` spans (``type``,
        ``text``, token ``start`` and exclusive ``end``) and ``tag_probabilities``, one per
        token: the probability of its tag."""
        rows = []
        tagged, probabilities = self.predict_tokens(sentences)
        for tokens, tags, tag_probabilities in zip(sentences, tagged, probabilities, strict=True):
            entities = [
                {
                    "type": c.type,
                    "text": " ".join(tokens[c.start : c.end]),
                    "start": c.start,
                    "end": c.end,
                }
                for c in read_chunks(tags)
            ]
            rows.append(
                {
                    "tagged": [[t, g] for t, g in zip(tokens, tags, strict=True)],
                    "entities": entities,
                    "tag_probabilities": tag_probabilities,
                }
            )
        return rows

    def serving_example(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "text": ["EU rejects German call to boycott British lamb.", None],
                "tokens": [None, ["Peter", "Blackburn", "flew", "to", "Brussels", "."]],
            }
        )
