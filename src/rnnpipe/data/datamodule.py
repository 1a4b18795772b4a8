"""The DataModule contract every task follows; this base owns the plumbing.

A task's DataModule turns its files into batches. The subclass writes what is the task's own:

* ``read_splits()``: the raw items of ``train``, ``val`` and ``test`` from its files, and
  ``read_test_file(path)``: a test file alone;
* ``fit(train)``: the preprocessing fitted on the train split only, returned as plain data
  (:class:`~rnnpipe.data.preprocessing.Preprocessing`);
* ``prepare(split, items)``: the items a split's loader batches (encoded), ``collate(items)``,
  ``model_kwargs()``: what the task module can only know after set-up (sizes, labels, ids);
* ``training_files()``: the files a training run reads, by role.

The base owns the rest. Constructor arguments (all from YAML) are its hyperparameters
(``self.hparams``), with at least ``batch_size``, ``num_workers``, ``seed`` and, for a task
that reads files, ``test_path``.
``state_dict()`` is the fitted preprocessing, so it travels in every checkpoint.
Memory stays bounded on any input: a subclass passes each example's length through
:meth:`token_limit`, which cuts it to ``max_tokens`` (counted in ``truncated``, logged, and
recorded as the metric ``data/truncated``) or, with ``length_policy: strict``, refuses it with
its file and line. Pretrained word vectors (a ``data.embeddings_path``-like key) are read for a
fitted vocabulary by :meth:`word_vectors`, which keeps their coverage for :meth:`data_metrics`
(``data/<key>_coverage``: the share of the vocabulary's words the file has). Once fitted (or
restored with ``load_state_dict``), ``setup("test")`` with a ``test_path`` reads only that file:
how a trained model is scored on a new file. ``input_files()`` names the files read, for
provenance. ``train_sampler`` is the replayable training order that an exact resume moves on.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Sampler

from rnnpipe.data.batching import LengthBuckets, ResumableShuffle, make_loader
from rnnpipe.data.preprocessing import Preprocessing
from rnnpipe.data.tokenization import words_of_tokens
from rnnpipe.data.word_vectors import WordVectors, read_word_vectors
from rnnpipe.errors import DataFormatError, RnnpipeError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
LENGTH_POLICIES = ("truncate", "strict")


class TaskDataModule(L.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)  # the subclass's constructor arguments
        self.preprocessing = Preprocessing()
        self.splits: dict[str, list[Any]] = {}
        self.train_sampler: ResumableShuffle | LengthBuckets | None = None
        self.evaluating = False  # set up on a test file alone, with restored preprocessing
        self.truncated: Counter[str] = Counter()  # examples cut to max_tokens, by split
        self.vectors_read: dict[str, WordVectors] = {}  # by the key of their file, less _path
        policy = self.hparams.get("length_policy", "truncate")
        if policy not in LENGTH_POLICIES:
            raise ValueError(f"length_policy must be one of {LENGTH_POLICIES}, got {policy!r}")

    # -- what each task writes -----------------------------------------------------------------
    def read_splits(self) -> dict[str, list[Any]]:
        raise NotImplementedError

    def read_test_file(self, path: str) -> list[Any]:
        raise NotImplementedError

    def fit(self, train: list[Any]) -> dict[str, Any]:
        raise NotImplementedError

    def prepare(self, split: str, items: list[Any]) -> list[Any]:
        """What the split's loader batches; by default the items as read."""
        return items

    def collate(self, items: list[Any]) -> dict[str, Any]:
        raise NotImplementedError

    def model_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def training_files(self) -> dict[str, Path]:
        raise NotImplementedError

    def test_files(self, path: str) -> dict[str, Path]:
        """The files the test-only set-up reads for a test file ``path``."""
        return {"test": Path(path)}

    def empty_split_message(self, split: str) -> str:
        """What to change when ``split`` has no examples: by default the config key of its file,
        for tasks whose splits are files (``data.test_path``)."""
        key = f"{split}_path"
        change = f"set data.{key}" if key in self.hparams else "check the data config"
        return f"the {split} split is empty: {change}"

    def make_train_sampler(self, train: list[Any]) -> ResumableShuffle | LengthBuckets:
        return ResumableShuffle(len(train), self.hparams.seed, self.hparams.batch_size)

    def token_limit(self, split: str, length: int, path: str | Path, line: int | None) -> int:
        """How many of an example's ``length`` tokens to keep: all within ``max_tokens``, else
        ``max_tokens`` (the example is counted as truncated), or with ``length_policy: strict``
        an error naming the example's file and line."""
        limit = self.hparams.get("max_tokens")
        if limit is None or length <= limit:
            return length
        if self.hparams.length_policy == "strict":
            expected = f"an example of at most {limit} tokens (data.max_tokens)"
            raise DataFormatError(path, line, expected, f"{length} tokens")
        self.truncated[split] += 1
        return limit

    def truncation_metrics(self) -> dict[str, float]:
        """``data/truncated`` (every split) and ``data/truncated_<split>``: examples cut."""
        by_split = {f"data/truncated_{split}": float(n) for split, n in self.truncated.items()}
        return {"data/truncated": float(sum(self.truncated.values()))} | by_split

    def data_metrics(self) -> dict[str, float]:
        """:meth:`truncation_metrics`, and for each file of word vectors read
        ``data/<key>_coverage`` (share of the vocabulary's words found) and ``data/<key>_found``."""
        metrics = self.truncation_metrics()
        for name, vectors in self.vectors_read.items():
            metrics[f"data/{name}_coverage"] = vectors.coverage
            metrics[f"data/{name}_found"] = float(vectors.found)
        return metrics

    # -- pretrained word vectors -----------------------------------------------------------------
    def word_vectors(self, key: str, tokenizer: str) -> torch.Tensor | None:
        """The embedding matrix ``(V, D)`` for the fitted ``tokenizer``'s vocabulary from the
        GloVe-format file ``data.<key>`` (None when the key is null)."""
        path = self.hparams.get(key)
        if not path:
            return None
        fitted = self.preprocessing.tokenizer(tokenizer)
        vectors = read_word_vectors(path, fitted.get_vocab(), words_of_tokens(fitted))
        self.vectors_read[key.removesuffix("_path")] = vectors
        return vectors.matrix

    def vector_files(self, *keys: str) -> dict[str, Path]:
        """The files of word vectors among ``keys`` that are set, by role (``embeddings``)."""
        return {key.removesuffix("_path"): Path(self.hparams[key]) for key in keys
                if self.hparams.get(key)}  # fmt: skip

    def warn_truncated(self) -> None:
        for split, count in sorted(self.truncated.items()):
            total = len(self.splits[split])
            log.warning(
                "data.max_tokens=%d: cut %d of %d %s examples to that length",
                self.hparams.max_tokens,
                count,
                total,
                split,
            )

    # -- fitted state: what travels in every checkpoint ----------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return dict(self.preprocessing.state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.preprocessing = Preprocessing(state)

    def input_files(self) -> dict[str, Path]:
        """The files ``setup`` read, by role: each MLflow run records them."""
        if self.evaluating:
            return self.test_files(self.hparams.test_path)
        return self.training_files()

    # -- Lightning hooks -----------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        test_path = self.hparams.get("test_path")  # a task of generated data reads no file
        if self.preprocessing and stage == "test" and test_path:
            self.evaluating = True
            self.splits["test"] = self.prepare("test", self.read_test_file(test_path))
            self.warn_truncated()
            return
        if "train" in self.splits:
            return
        items = self.read_splits()
        if not self.preprocessing:
            self.preprocessing = Preprocessing(self.fit(items["train"]))
        self.splits = {
            split: self.prepare(split, items[split]) for split in SPLITS if split in items
        }
        self.train_sampler = self.make_train_sampler(self.splits["train"])
        self.warn_truncated()

    def require_splits(self, *splits: str) -> None:
        """Refuse, in one line saying what to change, a split a run needs that has no examples.
        The entry points call it after set-up, before an MLflow run starts: a run that cannot
        train leaves no FAILED run behind."""
        for split in splits:
            if not self.splits.get(split):
                raise RnnpipeError(self.empty_split_message(split))

    def loader(self, split: str) -> DataLoader:
        if not self.splits.get(split):  # a split the data config does not give
            raise RnnpipeError(self.empty_split_message(split))
        batching: dict[str, Any] = {"batch_size": self.hparams.batch_size}
        if split != "train" and "eval_batch_size" in self.hparams:
            # a task that decodes to evaluate does it in larger batches: fewer decoding steps,
            # each one's fixed cost shared by more sentences
            batching["batch_size"] = self.hparams.eval_batch_size
        if split == "train":
            batching |= self.train_batching(self.train_sampler)
        return make_loader(
            self.splits[split],
            self.collate,
            self.hparams.seed,
            self.hparams.num_workers,
            **batching,
        )

    def train_batching(self, sampler: Sampler) -> dict[str, Any]:
        """A sampler of batches replaces ``batch_size``, except under DDP: there Lightning puts
        its distributed sampler on the training loader, which can only wrap a sampler of items."""
        if not isinstance(sampler, LengthBuckets):
            return {"sampler": sampler}
        distributed = self.trainer is not None and self.trainer.world_size > 1
        return {} if distributed else {"batch_sampler": sampler}

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int):
        """A batch dict's tensors move; its raw texts and tags (lists, for reports) stay as
        they are. Lightning's own transfer walks every string of them, which cost a NER epoch
        on CoNLL-2003 several seconds."""
        if isinstance(batch, dict):
            return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def train_dataloader(self) -> DataLoader:
        return self.loader("train")

    def val_dataloader(self) -> DataLoader:
        return self.loader("val")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test")
