"""``model.init_from``: start a new model from a trained one's weights (transfer).

The main use is a language model (the generation task) pretrained on text, then a classifier,
tagger or translation encoder started from it. Before training, each source parameter is put
where its name says:

    name          the source's name, its first matching prefix of ``model.init_from_prefixes``
                  replaced (``{rnn: encoder}``: ``rnn.weight_hh_l0`` -> ``encoder.weight_hh_l0``;
                  a prefix mapped to null is not copied); names match at dot boundaries
    copied        the new model has that name and the same shape
    by token      both are embeddings over a tokenizer (:attr:`TaskModule.embedding_vocabularies`),
                  or output layers scoring its tokens (:attr:`TaskModule.output_vocabularies`,
                  weight and bias): row j of the new one (token t) takes the source row of t,
                  where the source tokenizer knows t, as it is or as the same word (a
                  translator's ``▁dog`` is a language model's ``dog``); the other rows keep
                  their initialisation
    by column     a recurrent layer's input-to-hidden matrix ``weight_ih*`` whose inputs differ
                  in width: the leading columns that read the same features in both. Every
                  task's first layer reads the token embedding first (a generator
                  ``[token; label]``, a tagger ``[word; casing; characters]``), so there the
                  columns of the narrower embedding; a layer above reads the forward direction
                  first, so there the columns both have
    skipped       same name, another shape, or embeddings of another dimension
    missing       new parameters the source has none for: they keep their initialisation
    unused        source parameters with no place in the new model

Only parameters move: buffers (a tagger's scheme constraints, metric states) belong to the new
model's own data. :class:`Transfer` says which went where.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tokenizers import Tokenizer

from rnnpipe.data.tokenization import words_of_tokens
from rnnpipe.training.module import TaskModule

TRANSFER_KEYS = ("init_from", "init_from_prefixes")  # rnnpipe-train's, not the module's


def module_config(model_cfg: DictConfig) -> dict[str, Any]:
    """The model config as the module's constructor takes it: resolved, without the transfer
    keys (they tell rnnpipe-train where to start from; they are not hyperparameters)."""
    config = OmegaConf.to_container(model_cfg, resolve=True)
    return {key: value for key, value in config.items() if key not in TRANSFER_KEYS}


def build_module(cfg: DictConfig, datamodule: Any) -> TaskModule:
    """The task module of ``cfg.model``, untrained, on what the set-up ``datamodule`` fitted:
    its sizes and labels, its preprocessing, and the data config it was built with."""
    return instantiate(
        module_config(cfg.model),
        **datamodule.model_kwargs(),
        preprocessing=datamodule.state_dict(),
        data_config=OmegaConf.to_container(cfg.data, resolve=True),
    )


@dataclass
class Transfer:
    """What :func:`init_from` did, parameter by parameter (names of the new model)."""

    source: str
    copied: list[str] = field(default_factory=list)
    by_token: dict[str, dict[str, int]] = field(default_factory=dict)  # rows copied / rows
    by_column: dict[str, dict[str, int]] = field(default_factory=dict)  # columns copied / all
    skipped_for_shape: dict[str, str] = field(default_factory=dict)  # source -> new shape
    missing: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)  # source names

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report rnnpipe-train prints."""
        lines = [
            f"model.init_from={self.source}: {len(self.copied)} copied, {len(self.by_token)} "
            f"by token, {len(self.by_column)} by column, {len(self.skipped_for_shape)} skipped "
            f"for shape, {len(self.missing)} missing, {len(self.unused)} unused"
        ]
        lines += [f"  copied            {name}" for name in self.copied]
        for name, rows in self.by_token.items():
            share = rows["copied"] / rows["rows"]
            lines.append(
                f"  copied by token   {name}: {rows['copied']} of {rows['rows']} rows "
                f"({share:.1%}); the others keep their initialisation"
            )
        lines += [
            f"  copied by column  {name}: the first {columns['copied']} of {columns['columns']} "
            "input columns; the others keep their initialisation"
            for name, columns in self.by_column.items()
        ]
        lines += [f"  skipped (shape)   {n}: {s}" for n, s in self.skipped_for_shape.items()]
        lines += [f"  missing (initialised as usual) {name}" for name in self.missing]
        lines += [f"  unused from the source         {name}" for name in self.unused]
        return lines


def mapped_name(name: str, prefixes: Mapping[str, str | None]) -> str | None:
    """``name`` with its longest matching prefix replaced; None when that prefix maps to null."""
    for prefix in sorted(prefixes, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            target = prefixes[prefix]
            return None if target is None else target + name[len(prefix) :]
    return name


def token_row_tokenizers(module: TaskModule) -> dict[str, str]:
    """Name of a parameter whose rows are tokens (an embedding's weight, an output layer's
    weight and bias) -> the name of the tokenizer of those tokens."""
    names = {f"{path}.weight": tok for path, tok in module.embedding_vocabularies.items()}
    for path, tokenizer in module.output_vocabularies.items():
        names |= {f"{path}.weight": tokenizer, f"{path}.bias": tokenizer}
    return names


@torch.no_grad()
def copy_by_token(
    target: torch.Tensor, source: torch.Tensor, target_tokens: Tokenizer, source_tokens: Tokenizer
) -> int:
    """Row j of ``target`` (token t) := the ``source`` row of t, for every token t the source
    tokenizer knows, as it is or else as the same word (a translator's ``"▁dog"`` takes a
    language model's ``"dog"``); returns how many rows were copied."""
    source_vocab = source_tokens.get_vocab()
    source_by_word: dict[str, int] = {}
    for token, word in words_of_tokens(source_tokens).items():
        if word:  # a bare word-start marker stands for no word
            source_by_word.setdefault(word, source_vocab[token])
    target_words = words_of_tokens(target_tokens)
    shared = []
    for token, j in target_tokens.get_vocab().items():
        i = source_vocab.get(token, source_by_word.get(target_words[token] or None))
        if i is not None:
            shared.append((j, i))
    if shared:
        rows, source_rows = (torch.tensor(ids) for ids in zip(*shared, strict=True))
        target[rows] = source[source_rows].to(target.dtype)
    return len(shared)


def reads_a_wider_or_narrower_input(name: str, target: torch.Tensor, source: torch.Tensor) -> bool:
    """Whether both are a recurrent layer's input-to-hidden matrix, alike but in input width."""
    return (
        name.rpartition(".")[2].startswith("weight_ih")
        and target.dim() == source.dim() == 2
        and target.shape[0] == source.shape[0]
        and target.shape[1] != source.shape[1]
    )


FIRST_LAYER_INPUT = re.compile(r"weight_ih_l0(_reverse)?$")


def shared_input_columns(
    name: str, target: torch.Tensor, source: torch.Tensor, model: TaskModule, origin: TaskModule
) -> int:
    """How many leading input columns of ``name`` read the same features in ``model`` as in
    ``origin`` (the module docstring's *by column*)."""
    columns = min(target.shape[1], source.shape[1])
    if FIRST_LAYER_INPUT.search(name):
        widths = [m.hparams.get("embedding_dim") for m in (model, origin)]
        if None not in widths:
            columns = min(columns, *widths)  # past it: a label, casing, characters
    return columns


@torch.no_grad()
def init_from(
    model: TaskModule, source: TaskModule, source_name: str, prefixes: Mapping[str, str | None]
) -> Transfer:
    """Copy ``source``'s matching parameters into ``model`` in place (module docstring)."""
    transfer = Transfer(source_name)
    parameters = dict(model.named_parameters())
    target_rows, source_rows = token_row_tokenizers(model), token_row_tokenizers(source)
    filled = set()
    for source_key, value in source.named_parameters():
        name = mapped_name(source_key, prefixes)
        if name is None or name not in parameters:
            transfer.unused.append(source_key)
            continue
        target = parameters[name]
        if name in target_rows and source_key in source_rows:
            if target.shape[1:] != value.shape[1:]:
                transfer.skipped_for_shape[name] = f"{tuple(value.shape)} -> {tuple(target.shape)}"
                continue
            copied = copy_by_token(
                target,
                value,
                model.tokenizer(target_rows[name]),
                source.tokenizer(source_rows[source_key]),
            )
            transfer.by_token[name] = {"copied": copied, "rows": target.shape[0]}
        elif reads_a_wider_or_narrower_input(name, target, value):
            columns = shared_input_columns(name, target, value, model, source)
            target[:, :columns] = value[:, :columns].to(target.dtype)
            transfer.by_column[name] = {"copied": columns, "columns": target.shape[1]}
        elif target.shape != value.shape:
            transfer.skipped_for_shape[name] = f"{tuple(value.shape)} -> {tuple(target.shape)}"
            continue
        else:
            target.copy_(value)
            transfer.copied.append(name)
        filled.add(name)
    transfer.missing = [
        name for name in parameters if name not in filled and name not in transfer.skipped_for_shape
    ]
    return transfer
