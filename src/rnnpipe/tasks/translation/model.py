"""Many-to-many with different lengths: an English sentence in, its German translation out.

    encoder   source (B, S) -> embedding -> bidirectional VanillaRNN -> memory h_1..h_S (B, S, 2H)
              each layer's last forward and backward states -> s_0 = tanh(W_b [h_fwd; h_bwd])
    decoder   s_t = f(W_ih y_{t-1} + W_hh s_{t-1} + b)                    (a VanillaRNN step)
              c_t, a_t = attention(s_t, memory)                            (see attention.py)
              o_t = tanh(W_c [s_t; c_t])      (o_t = tanh(W_c s_t) with attention "none")
              P(y_t | y_<t, x) = softmax(W_o o_t + b_o)

The decoder attends after its step (Luong's order): c_t only shapes the output, not the next
RNN input, so with full teacher forcing every target step's input is known in advance and the
decoder RNN runs over the whole target in one call, with the hand-written BPTT. With
``teacher_forcing_ratio < 1`` the next input is sometimes the model's own prediction, and the
decoder runs one step (one VanillaRNN call, its state carried) at a time.

With ``cell: lstm`` the state is (s_t, m_t), the LSTM's memory cell too: the decoder's starts
from the encoder's final cells, m_0 = W_m [m_fwd; m_bwd] (unsquashed, as a cell is). The
searches carry both.

``attention: none`` is the classic context-vector seq2seq: the encoder's final states are all the
decoder knows of the source. ``tie_weights`` shares the target embedding with W_o (o_t then
has ``embedding_dim`` features).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from sacrebleu.metrics import BLEU, CHRF
from tokenizers import Tokenizer
from torch import Tensor, nn
from torchmetrics import MeanMetric

from rnnpipe.data.tokenization import encode_texts, pad_batch
from rnnpipe.decoding.search import Hypothesis, State, beam_search, greedy_search
from rnnpipe.errors import InputRowError, shown
from rnnpipe.layers.attention import build_attention
from rnnpipe.layers.dropout import EmbeddingDropout, LockedDropout
from rnnpipe.layers.embedding import word_embedding
from rnnpipe.tasks.translation.attention_map import save_attention_map
from rnnpipe.training.module import TaskModule, length_mask, save_table

HEATMAPS = 4  # attention heatmaps written after a test run
LOSS_CHUNK = 1024  # target tokens through the output layer at once


def lowercases(tokenizer: Tokenizer) -> bool:
    """Whether the tokenizer lowercases its input (then its output has no case to score)."""
    return tokenizer.normalizer is not None and tokenizer.normalizer.normalize_str("A") == "a"


class Translator(TaskModule):
    input_description = "a 'text' column of English sentences"
    embedding_vocabularies = {"source_embedding": "source", "target_embedding": "target"}
    output_vocabularies = {"output": "target"}
    # an ensemble searches over every member's steps; its teacher-forced loss is the first's
    ensemble_methods = {"search_state": "state_per_member", "decode_step": "mean_probability"}
    unsaved_arguments = ("pretrained_embeddings", "pretrained_target_embeddings")  # data
    # the best translation, its log P(y | x) and its length-penalised score; with n_best > 1,
    # the n best of each, best first
    output_columns = (
        "translation",
        "log_probability",
        "score",
        "translations",
        "log_probabilities",
        "scores",
    )

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        pad_id: int,
        bos_id: int,
        eos_id: int,
        embedding_dim: int,
        freeze_embeddings: bool,
        hidden_size: int,
        cell: str,
        num_layers: int,
        nonlinearity: str,
        init: str,
        bptt: str,
        attention: str,
        attention_size: int,
        tie_weights: bool,
        dropout: float,
        teacher_forcing_ratio: float,
        label_smoothing: float,
        beam_size: int,
        n_best: int,
        length_penalty: float,
        max_decode_length: int,
        optimizer: dict[str, Any],
        embedding_dropout: float,
        locked_dropout: float,
        scheduler: dict[str, Any] | None,
        warmup: dict[str, Any] | None,
        serving: dict[str, Any],
        pretrained_embeddings: torch.Tensor | None = None,
        pretrained_target_embeddings: torch.Tensor | None = None,
        preprocessing: dict[str, Any] | None = None,
        data_config: dict[str, Any] | None = None,
    ):
        if not 0.0 <= teacher_forcing_ratio <= 1.0:
            raise ValueError(
                f"teacher_forcing_ratio must be in [0, 1], got {teacher_forcing_ratio!r}"
            )
        if beam_size < 1 or max_decode_length < 1:
            raise ValueError(
                "beam_size and max_decode_length must be >= 1, "
                f"got {beam_size} and {max_decode_length}"
            )
        if not 1 <= n_best <= beam_size:
            raise ValueError(f"n_best must be in [1, beam_size={beam_size}], got {n_best}")
        super().__init__(optimizer, scheduler, preprocessing, data_config, warmup, serving)
        self.embedding_dropout = EmbeddingDropout(embedding_dropout)
        self.locked_dropout = LockedDropout(locked_dropout)
        self.source_embedding = word_embedding(
            source_vocab_size, embedding_dim, pad_id, pretrained_embeddings, freeze_embeddings
        )
        self.encoder = self.recurrent_layer(embedding_dim, hidden_size, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_size, hidden_size)  # W_b: encoder summary -> s_0
        if cell == "lstm":  # W_m: the encoder's final memory cells -> the decoder's m_0
            self.cell_bridge = nn.Linear(2 * hidden_size, hidden_size)
        self.target_embedding = word_embedding(
            target_vocab_size, embedding_dim, pad_id, pretrained_target_embeddings,
            freeze_embeddings,
        )  # fmt: skip
        self.decoder = self.recurrent_layer(embedding_dim, hidden_size)
        self.attention = build_attention(attention, hidden_size, 2 * hidden_size, attention_size)
        context_size = 0 if self.attention is None else 2 * hidden_size
        output_size = embedding_dim if tie_weights else hidden_size
        self.combine = nn.Linear(hidden_size + context_size, output_size)  # W_c
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(output_size, target_vocab_size)  # W_o, b_o
        if tie_weights:
            self.output.weight = self.target_embedding.weight

        self.nll = nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})  # -log P per token
        self.translations: dict[str, list[dict[str, Any]]] = {"val": [], "test": []}
        self.scorers = {"bleu": BLEU(), "chrf": CHRF()}  # the last scored split's
        self.reference_scorers: dict[str, tuple[list[str], dict[str, BLEU | CHRF]]] = {}

    # -- the model -----------------------------------------------------------------------------
    def encode(self, source: Tensor, source_lengths: Tensor) -> State:
        """The decoder's starting state, batch first: ``hidden (B, L, H)`` (an LSTM's ``cell``
        too) and, with attention, ``memory (B, S, 2H)``, its ``keys`` and ``source_mask (B, S)``."""
        embedded = self.embedding_dropout(self.source_embedding, source)
        memory, final = self.encoder(
            self.dropout(self.locked_dropout(embedded)), lengths=source_lengths
        )
        memory = self.locked_dropout(memory)
        state = {"hidden": torch.tanh(self.bridge(self.summary(self.hidden_state(final))))}
        if isinstance(final, tuple):
            state["cell"] = self.cell_bridge(self.summary(final[1]))
        if self.attention is not None:
            state["memory"] = memory
            state["keys"] = self.attention.keys(memory)
            state["source_mask"] = length_mask(source_lengths, source.shape[1], source.device)
        return state

    def summary(self, final: Tensor) -> Tensor:
        """Encoder final states ``(L*2, B, H)`` -> each layer's ``[fwd; bwd]`` ``(B, L, 2H)``."""
        # layer l's forward state is at 2l and its backward state at 2l + 1
        layers, batch, hidden = self.hparams.num_layers, final.shape[1], self.hparams.hidden_size
        return final.view(layers, 2, batch, hidden).permute(2, 0, 1, 3).reshape(batch, layers, -1)

    @staticmethod
    def decoder_start(state: State) -> Tensor | tuple[Tensor, Tensor]:
        """The decoder RNN's state layer first, as the RNN takes it: ``h (L, B, H)``, or an
        LSTM's ``(h, c)``."""
        hidden = state["hidden"].transpose(0, 1).contiguous()
        if "cell" not in state:
            return hidden
        return hidden, state["cell"].transpose(0, 1).contiguous()

    @staticmethod
    def carried(state: State, final: Tensor | tuple[Tensor, Tensor]) -> State:
        """``state`` with the decoder RNN's new final state, batch first again."""
        if isinstance(final, tuple):
            return {**state, "hidden": final[0].transpose(0, 1), "cell": final[1].transpose(0, 1)}
        return {**state, "hidden": final.transpose(0, 1)}

    def readout(self, decoder_states: Tensor, state: State) -> tuple[Tensor, Tensor | None]:
        """``o_t (B, T, O)`` for decoder states ``(B, T, H)``, and the attention ``(B, T, S)``."""
        if self.attention is None:
            return torch.tanh(self.combine(decoder_states)), None
        context, weights = self.attention(
            decoder_states, state["keys"], state["memory"], state["source_mask"]
        )
        return torch.tanh(self.combine(torch.cat((decoder_states, context), dim=-1))), weights

    def forward(
        self, source: Tensor, source_lengths: Tensor, target_in: Tensor, target_lengths: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher forcing: ``o_t`` for every target step ``(B, T, O)`` and the attention."""
        return self.teacher_forced(self.encode(source, source_lengths), target_in, target_lengths)

    def teacher_forced(
        self, state: State, target_in: Tensor, target_lengths: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """:meth:`forward` from the encoder's ``state`` (:meth:`encode`)."""
        embedded = self.embedding_dropout(self.target_embedding, target_in)
        decoder_states, _ = self.decoder(
            self.dropout(self.locked_dropout(embedded)),
            self.decoder_start(state),
            lengths=target_lengths,
        )
        return self.readout(self.locked_dropout(decoder_states), state)

    def forward_sampled(
        self, source: Tensor, source_lengths: Tensor, target_in: Tensor, ratio: float
    ) -> Tensor:
        """Scheduled teacher forcing: at each step, each sentence reads the true previous word
        with probability ``ratio``, else the model's own best guess. ``o_t`` for every step."""
        state = self.encode(source, source_lengths)
        hidden = self.decoder_start(state)
        tokens = target_in[:, 0]
        outputs = []
        # one draw of each dropout mask for the whole target sequence, used at every step
        like, batch = self.target_embedding.weight, len(tokens)
        scale = self.embedding_dropout.draw(self.target_embedding)
        input_mask = self.locked_dropout.draw(batch, self.hparams.embedding_dim, like)
        output_mask = self.locked_dropout.draw(batch, self.hparams.hidden_size, like)
        for t in range(target_in.shape[1]):
            embedded = self.embedding_dropout(self.target_embedding, tokens, scale)[:, None]
            embedded = self.dropout(self.locked_dropout(embedded, input_mask))
            decoder_state, hidden = self.decoder(embedded, hidden)
            decoder_state = self.locked_dropout(decoder_state, output_mask)
            attentional, _ = self.readout(decoder_state, state)
            outputs.append(attentional)
            if t + 1 < target_in.shape[1]:
                with torch.no_grad():
                    guess = self.output(attentional[:, 0]).argmax(dim=-1)
                truth = target_in[:, t + 1]
                tokens = torch.where(
                    torch.rand(len(truth), device=truth.device) < ratio, truth, guess
                )
        return torch.cat(outputs, dim=1)

    def token_loss(self, attentional: Tensor, target_out: Tensor, label_smoothing: float = 0.0):
        """Mean cross-entropy over the real (non-padding) target tokens, and their count.

        Only real tokens go through the output layer, the costliest matmul (V outputs each), and
        at most ``LOSS_CHUNK`` at a time: a validation batch's logits at once (thousands of
        tokens times V) would not fit the caches, and are written and read twice."""
        real = target_out != self.hparams.pad_id
        features, targets = self.dropout(attentional[real]), target_out[real]
        total = sum(
            F.cross_entropy(
                self.output(features[start : start + LOSS_CHUNK]),
                targets[start : start + LOSS_CHUNK],
                label_smoothing=label_smoothing,
                reduction="sum",
            )
            for start in range(0, len(targets), LOSS_CHUNK)
        )
        return total / len(targets), len(targets)

    def search_state(self, source: Tensor, source_lengths: Tensor) -> State:
        """Where the searches start: :meth:`encode` (an ensemble's holds every member's)."""
        return self.encode(source, source_lengths)

    def decode_step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """One decoder step for the searches: previous tokens ``(N,)`` -> the next token's
        logits ``(N, V)``."""
        decoder_state, final = self.decoder(
            self.target_embedding(tokens)[:, None], self.decoder_start(state)
        )
        attentional, _ = self.readout(decoder_state, state)
        return self.output(attentional[:, 0]), self.carried(state, final)

    @torch.no_grad()
    def translate(
        self,
        source: Tensor,
        source_lengths: Tensor,
        beam_size: int | None = None,
        n_best: int | None = None,
        length_penalty: float | None = None,
        max_length: int | None = None,
        start: State | None = None,
    ) -> list[list[Hypothesis]]:
        """The ``n_best`` best translations of each source sentence, best first: greedy for
        ``beam_size`` 1, else beam search. A setting not given is the model's own; ``start``
        is the search's start state when it was computed already (:meth:`search_state`)."""
        hp = self.hparams
        beam_size = hp.beam_size if beam_size is None else beam_size
        n_best = hp.n_best if n_best is None else n_best
        length_penalty = hp.length_penalty if length_penalty is None else length_penalty
        max_length = hp.max_decode_length if max_length is None else max_length
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        state = self.search_state(source, source_lengths) if start is None else start
        if beam_size == 1 and n_best == 1:
            found = greedy_search(
                self.decode_step, state, hp.bos_id, hp.eos_id, max_length, length_penalty
            )
            return [[hypothesis] for hypothesis in found]
        return beam_search(
            self.decode_step,
            state,
            hp.bos_id,
            hp.eos_id,
            max_length,
            beam_size,
            length_penalty,
            n_best,
        )

    def best_translations(
        self, source: Tensor, source_lengths: Tensor, **settings: Any
    ) -> list[list[int]]:
        """The target ids of each sentence's best translation (:meth:`translate`)."""
        return [found[0].tokens for found in self.translate(source, source_lengths, **settings)]

    # -- training, validation, test ------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        ratio = self.hparams.teacher_forcing_ratio
        if ratio < 1.0:
            attentional = self.forward_sampled(
                batch["source"], batch["source_lengths"], batch["target_in"], ratio
            )
        else:
            attentional, _ = self(
                batch["source"],
                batch["source_lengths"],
                batch["target_in"],
                batch["target_lengths"],
            )
        loss, tokens = self.token_loss(
            attentional, batch["target_out"], self.hparams.label_smoothing
        )
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=tokens)
        return loss

    def evaluate_batch(self, batch: dict[str, Any], split: str) -> None:
        """Teacher-forced -log P of the reference, and the translations to score."""
        source, lengths = batch["source"], batch["source_lengths"]
        encoded = self.encode(source, lengths)
        attentional, _ = self.teacher_forced(encoded, batch["target_in"], batch["target_lengths"])
        loss, tokens = self.token_loss(attentional, batch["target_out"])
        self.nll[split].update(loss.detach(), weight=tokens)
        # The searches start from the same encoding (an ensemble's, from every member's own).
        start = None if self.is_ensemble else encoded
        # Validation decodes greedily (cheap, every epoch). The test decodes with the configured
        # beam, and greedily too, so that the two can be compared.
        decodings = {
            "translation": self.best_translations(
                source, lengths, beam_size=1, n_best=1, start=start
            )
        }
        if split == "test" and self.hparams.beam_size > 1:
            decodings["greedy"] = decodings["translation"]
            decodings["translation"] = self.best_translations(
                source, lengths, n_best=1, start=start
            )
        target = self.tokenizer("target")
        texts = {name: target.decode_batch(ids) for name, ids in decodings.items()}
        for row, line in enumerate(batch["lines"]):
            self.translations[split].append(
                {
                    "line": line,
                    "source": batch["source_texts"][row],
                    "reference": batch["target_texts"][row],
                    **{name: values[row] for name, values in texts.items()},
                }
            )

    def scorers_for(self, split: str, references: list[str]) -> dict[str, BLEU | CHRF]:
        """BLEU and chrF holding the statistics of ``references``, computed once: validation
        scores the same references every epoch (their n-grams were a fifth of its time).

        Cased output is scored cased (sacreBLEU's default signature), and lowercased too, as
        ``bleu_lc``, to compare with a lowercased model's BLEU."""
        cached = self.reference_scorers.get(split)
        if cached is None or cached[0] != references:
            lowercase = lowercases(self.tokenizer("target"))
            scorers = {
                "bleu": BLEU(lowercase=lowercase, references=[references]),
                "chrf": CHRF(lowercase=lowercase, references=[references]),
            }
            if not lowercase:
                scorers["bleu_lc"] = BLEU(lowercase=True, references=[references])
            cached = self.reference_scorers[split] = (references, scorers)
        return cached[1]

    def log_scores(self, split: str) -> None:
        """Corpus BLEU and chrF of the translations, -log P per token and perplexity."""
        records = self.translations[split]
        self.scorers = self.scorers_for(split, [r["reference"] for r in records])
        scores = {}
        for decoding in ("translation", "greedy"):
            if decoding in records[0]:
                hypotheses = [r[decoding] for r in records]
                suffix = "" if decoding == "translation" else "_greedy"
                for name, scorer in self.scorers.items():
                    scores[f"{split}/{name}{suffix}"] = scorer.corpus_score(hypotheses, None).score
        self.log_dict(scores)
        self.log_token_nll(split, self.nll[split])

    def on_validation_epoch_start(self) -> None:
        self.translations["val"] = []

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.evaluate_batch(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self.log_scores("val")

    def on_test_epoch_start(self) -> None:
        self.translations["test"] = []

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.evaluate_batch(batch, "test")

    def on_test_epoch_end(self) -> None:
        self.log_scores("test")

    # -- reports -------------------------------------------------------------------------------
    def report_tags(self) -> dict[str, str]:
        hp = self.hparams
        return {
            "sacrebleu.bleu_signature": str(self.scorers["bleu"].get_signature()),
            "sacrebleu.chrf_signature": str(self.scorers["chrf"].get_signature()),
            "rnnpipe.decoding": (
                f"beam_size={hp.beam_size} length_penalty={hp.length_penalty} "
                f"max_decode_length={hp.max_decode_length}"
            ),
        }

    def write_test_reports(self, directory: Path) -> list[Path]:
        """Translations beside their references, and attention heatmaps of the first few."""
        records = self.translations["test"]
        written = [
            save_table(pd.DataFrame(records), directory / "predictions" / "test_translations.tsv")
        ]
        if self.attention is not None:
            for index, record in enumerate(records[:HEATMAPS]):
                path = directory / "plots" / f"attention_{index}_line{record['line']}.png"
                source, output, weights = self.attention_map(
                    record["source"], record["translation"]
                )
                title = f"{self.hparams.attention} attention"
                written.append(save_attention_map(source, output, weights, title, path))
        return written

    @torch.no_grad()
    def attention_map(
        self, source_text: str, translation: str
    ) -> tuple[list[str], list[str], Tensor]:
        """Source tokens, output tokens (with ``</s>``) and the attention ``(T, S)`` that the
        model paid while producing ``translation`` from ``source_text``."""
        source_tok, target_tok = self.tokenizer("source"), self.tokenizer("target")
        source_enc, target_enc = source_tok.encode(source_text), target_tok.encode(translation)
        source = torch.tensor([source_enc.ids], device=self.device)
        target_in = torch.tensor([[self.hparams.bos_id, *target_enc.ids]], device=self.device)
        self.eval()
        _, weights = self(
            source,
            torch.tensor([source.shape[1]]),
            target_in,
            torch.tensor([target_in.shape[1]]),
        )
        return source_enc.tokens, [*target_enc.tokens, "</s>"], weights[0].cpu()

    # -- serving -------------------------------------------------------------------------------
    def parse_input(self, row: int, record: dict[str, Any]) -> list[int]:
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputRowError(row, "text", "a non-empty English sentence", shown(text))
        [ids] = encode_texts(self.tokenizer("source"), [text])
        self.check_input_length(row, "text", len(ids))
        return ids

    def serving_params(self) -> dict[str, Any]:
        """The search's settings: the beam, how many of its best translations to return, the
        length penalty it ranks them with, and the longest translation (tokens)."""
        hp = self.hparams
        return {
            "beam_size": hp.beam_size,
            "n_best": hp.n_best,
            "length_penalty": float(hp.length_penalty),
            "max_length": hp.max_decode_length,
        }

    def predict_batch(
        self,
        encoded: list[list[int]],
        beam_size: int,
        n_best: int,
        length_penalty: float,
        max_length: int,
    ) -> list[dict[str, Any]]:
        """The German translation(s) of each encoded English text, with log P and score."""
        source, lengths = pad_batch(encoded, pad_id=self.hparams.pad_id)
        found = self.translate(
            source.to(self.device), lengths, beam_size, n_best, length_penalty, max_length
        )
        target = self.tokenizer("target")
        rows = []
        for hypotheses in found:
            texts = target.decode_batch([h.tokens for h in hypotheses])
            best = hypotheses[0]
            row = {
                "translation": texts[0],
                "log_probability": best.log_probability,
                "score": best.score,
            }
            if n_best > 1:
                row["translations"] = texts
                row["log_probabilities"] = [h.log_probability for h in hypotheses]
                row["scores"] = [h.score for h in hypotheses]
            rows.append(row)
        return rows

    def serving_example(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"text": ["A man in a red shirt is riding a bike.", "Two dogs run through the snow."]}
        )
