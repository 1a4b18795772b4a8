"""The types and ranges of the config values users set, checked once before a run exists.

Each rule is keyed by its config path, so a key that moves is moved here in one edit. Rules hold
types and ranges only: every default stays in the YAML. A key a config does not have (another
task's, a section the recipe leaves out) is not checked. A refusal is one line: the key, the
value, what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnpipe.errors import RnnpipeError

MISSING = object()


@dataclass(frozen=True)
class Number:
    """An int (or any real, ``integer=False``) within ``[low, high]``; ``above``: strictly
    greater than ``low``; ``below``: strictly less than ``high``."""

    integer: bool
    low: float | None = None
    high: float | None = None
    above: bool = False
    below: bool = False
    nullable: bool = False

    def allows(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        kinds = (int,) if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or (value < self.high if self.below else value <= self.high)

    def __str__(self) -> str:
        words = ["an integer" if self.integer else "a number"]
        if self.low is not None:
            words.append(f"{'>' if self.above else '>='} {self.low:g}")
        if self.high is not None:
            words.append(("and " if self.low is not None else "") + ("<" if self.below else "<="))
            words[-1] += f" {self.high:g}"
        return " ".join(words) + (", or null" if self.nullable else "")


@dataclass(frozen=True)
class OneOf:
    choices: tuple[Any, ...]

    def allows(self, value: Any) -> bool:
        return value in self.choices

    def __str__(self) -> str:
        return "one of " + ", ".join("null" if c is None else str(c) for c in self.choices)


COUNT = Number(integer=True, low=1)
SIZE_OR_NULL = Number(integer=True, low=1, nullable=True)
FRACTION = Number(integer=False, low=0, high=1, above=True, below=True)  # 0 < x < 1
PROBABILITY = Number(integer=False, low=0, high=1, below=True)  # a dropout: 0 <= p < 1
NON_NEGATIVE = Number(integer=False, low=0)

RULES: Mapping[str, Number | OneOf] = {
    "seed": Number(integer=True, low=0, nullable=True),
    "optimized_mode": OneOf(("min", "max")),
    "promote": OneOf(("auto", None)),
    "trainer.max_epochs": COUNT,
    "trainer.max_steps": Number(integer=True, low=-1),
    "trainer.log_every_n_steps": COUNT,
    "trainer.gradient_clip_val": Number(integer=False, low=0, nullable=True),
    "trainer.accumulate_grad_batches": COUNT,
    "data.batch_size": COUNT,
    "data.eval_batch_size": COUNT,
    "data.num_workers": Number(integer=True, low=0),
    "data.val_fraction": FRACTION,
    "data.test_fraction": Number(integer=False, low=0, high=1, below=True),
    "data.split_seed": Number(integer=True, low=0),
    "data.folds": Number(integer=True, low=2, nullable=True),
    "data.fold": Number(integer=True, low=0, nullable=True),
    "data.max_length": SIZE_OR_NULL,
    "data.max_tokens": COUNT,
    "data.min_frequency": COUNT,
    "data.vocab_size": COUNT,
    "data.length_policy": OneOf(("truncate", "strict")),
    "data.tokenizer": OneOf(("word", "bpe")),
    "data.level": OneOf(("char", "word")),
    "model.hidden_size": COUNT,
    "model.embedding_dim": COUNT,
    "model.num_layers": COUNT,
    "model.nonlinearity": OneOf(("tanh", "relu")),
    "model.cell": OneOf(("vanilla", "gru", "lstm")),
    "model.bptt": OneOf(("manual", "autograd")),
    "model.dropout": PROBABILITY,
    "model.embedding_dropout": PROBABILITY,
    "model.locked_dropout": PROBABILITY,
    "model.label_smoothing": PROBABILITY,
    "model.teacher_forcing_ratio": Number(integer=False, low=0, high=1),
    "model.beam_size": COUNT,
    "model.n_best": COUNT,
    "model.length_penalty": NON_NEGATIVE,
    "model.max_decode_length": COUNT,
    "model.tbptt_steps": SIZE_OR_NULL,
    "model.sampling.temperature": NON_NEGATIVE,  # 0: greedy
    "model.sampling.top_k": SIZE_OR_NULL,
    "model.sampling.top_p": Number(integer=False, low=0, high=1, above=True, nullable=True),
    "model.sampling.max_length": COUNT,
    "model.serving.max_rows": COUNT,
    "model.serving.max_characters": COUNT,
    "model.serving.max_seconds": Number(integer=False, low=0, above=True),
    "model.optimizer.lr": NON_NEGATIVE,
    "model.optimizer.weight_decay": NON_NEGATIVE,
    "model.optimizer.momentum": Number(integer=False, low=0, high=1, below=True),
}


def check_config(cfg: DictConfig) -> None:
    """Refuse the first value that breaks its rule, in one line."""
    for key, rule in RULES.items():
        value = OmegaConf.select(cfg, key, default=MISSING)
        if value is MISSING or OmegaConf.is_config(value):
            continue
        if not rule.allows(value):
            raise RnnpipeError(f"{key}: expected {rule}, got {value!r}")
