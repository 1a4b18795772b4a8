"""The fitted preprocessing as plain data: what a trained model needs to read new input.

A DataModule fits it on the train split (tokenizers, label names, ...); it then travels in every
checkpoint and MLflow model, so the same DataModule and the task module can read raw input
exactly as training did. Tokenizers are kept as their JSON strings (``tokenizer.json``), so a
checkpoint stays loadable with ``torch.load(weights_only=True)``; each is built once when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenizers import Tokenizer


class Preprocessing:
    """``state``: ``{"tokenizers": {name: json}, "labels": [...], ...}``; empty until fitted."""

    def __init__(self, state: Mapping[str, Any] | None = None):
        self.state = dict(state or {})
        self._tokenizers: dict[str, Tokenizer] = {}

    def __bool__(self) -> bool:
        return bool(self.state)

    def __getitem__(self, key: str) -> Any:
        return self.state[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def tokenizer(self, name: str) -> Tokenizer:
        """The fitted tokenizer ``name``, built from its JSON once, then cached."""
        if name not in self._tokenizers:
            if name not in self.state.get("tokenizers", {}):
                raise RuntimeError(
                    f"no fitted tokenizer {name!r}: fit the preprocessing (setup('fit')) or load "
                    "it from a checkpoint first"
                )
            self._tokenizers[name] = Tokenizer.from_str(self.state["tokenizers"][name])
        return self._tokenizers[name]
