"""What every rnnpipe task module shares.

A task module owns its loss, metrics and decoding. This base adds the three things that make a
checkpoint on its own enough to serve raw text and to be evaluated again:

* the fitted preprocessing (tokenizers, label names) and the data config are stored in every
  checkpoint under ``"rnnpipe"``, beside the weights;
* the optimizer (and optional scheduler) come from config as ``_target_`` mappings, kept as plain
  data in the hyperparameters so checkpoints load with ``torch.load(weights_only=True)``;
* a DataFrame-in, DataFrame-out :meth:`predict_frame`, used by the MLflow pyfunc model and by
  ``rnnpipe-predict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import pandas as pd
import torch
from hydra.utils import instantiate
from tokenizers import Tokenizer

CHECKPOINT_KEY = "rnnpipe"


class TaskModule(L.LightningModule):
    task_name: ClassVar[str]  # the MLflow experiment and the registered model's suffix
    input_column: ClassVar[str] = "text"  # the serving DataFrame's column of raw inputs
    input_description: ClassVar[str] = "raw texts"  # what it holds, for error messages

    def __init__(
        self,
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        preprocessing: Mapping[str, Any] | None = None,
        data_config: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self.optimizer_config = dict(optimizer)
        self.scheduler_config = dict(scheduler) if scheduler else None
        self.preprocessing = dict(preprocessing or {})
        self.data_config = dict(data_config or {})
        self._tokenizers: dict[str, Tokenizer] = {}

    # -- what a checkpoint carries besides the weights ----------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "task": self.task_name,
            # the tracking run to continue when training resumes from this checkpoint
            "tracking_run_id": getattr(self.logger, "run_id", None),
            "preprocessing": self.preprocessing,
            "data_config": self.data_config,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint[CHECKPOINT_KEY]
        self.preprocessing = saved["preprocessing"]
        self.data_config = saved["data_config"]
        self._tokenizers = {}

    def tokenizer(self, name: str = "tokenizer") -> Tokenizer:
        """A fitted tokenizer from the preprocessing state (built once, then cached)."""
        if name not in self._tokenizers:
            if name not in self.preprocessing.get("tokenizers", {}):
                raise RuntimeError(
                    f"this {type(self).__name__} has no fitted tokenizer {name!r}; it was built "
                    "without preprocessing (train it through rnnpipe-train or load a checkpoint)"
                )
            self._tokenizers[name] = Tokenizer.from_str(self.preprocessing["tokenizers"][name])
        return self._tokenizers[name]

    # -- optimisation --------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        optimizer = instantiate(self.optimizer_config, params=self.parameters())
        if self.scheduler_config is None:
            return optimizer
        scheduler = instantiate(self.scheduler_config, optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss"},
        }

    # -- serving and reports: each task fills these in ----------------------------------------
    def predict_texts(self, texts: list[str]) -> pd.DataFrame:
        """One row of decoded predictions per raw input text (``rnnpipe-predict``)."""
        raise NotImplementedError

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Raw inputs in, decoded predictions out (the MLflow pyfunc contract): the inputs are
        the ``input_column`` of ``frame``."""
        if self.input_column not in frame.columns:
            raise ValueError(
                f"expected a {self.input_column!r} column of {self.input_description}, "
                f"got columns {list(frame.columns)}"
            )
        return self.predict_texts(frame[self.input_column].tolist())

    def serving_example(self) -> pd.DataFrame:
        """A small input frame: the MLflow signature and input example are made from it."""
        raise NotImplementedError

    def gather(self, records: list[Any]) -> list[Any]:
        """Everyone's records, on every process: under DDP each rank only saw its shard."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return records
        shards: list[list[Any]] = [[] for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather_object(shards, records)
        return [record for shard in shards for record in shard]

    def report_tags(self) -> dict[str, str]:
        """Tags that describe how the last test run was scored (e.g. a sacreBLEU signature)."""
        return {}

    def write_test_reports(self, directory: Path) -> list[Path]:
        """Write what the last test run found (plots, prediction files) under ``directory``."""
        return []
