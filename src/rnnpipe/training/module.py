"""What every rnnpipe task module shares.

A task module owns its loss, metrics and decoding. This base owns what every one repeats:

* its recurrent layers, built from the same config keys in every task (``hidden_size``,
  ``num_layers``, ``nonlinearity``, ``dropout`` between layers, ``bptt``), and listed for
  callbacks by :meth:`recurrent_layers`, whatever the task calls them;
* the fitted preprocessing (tokenizers, label names) and the data config, stored in every
  checkpoint under ``"rnnpipe"`` beside the weights, so a checkpoint alone can serve raw input
  and be scored again;
* the optimizer (and optional scheduler, stepped each epoch, and warmup, stepped each optimizer
  step) from config as ``_target_`` mappings, kept as plain data in the hyperparameters so
  checkpoints load with ``torch.load(weights_only=True)``;
* batched prediction with input checks: a DataFrame of raw inputs in, one row of decoded
  predictions (with their scores) per input out, under per-request decoding params whose
  defaults are the model's hyperparameters (:meth:`predict_frame`, the MLflow pyfunc
  contract);
* the report writer's pieces, and gathering records from every DDP rank.

The constructor arguments are the hyperparameters; a subclass passes its own on to the base,
which saves them all (:meth:`save_hyperparameters` sees the whole ``__init__`` chain).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import pandas as pd
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import MLFlowLogger
from tokenizers import Tokenizer
from torchmetrics import MeanMetric

from rnnpipe.atomic_files import written_whole
from rnnpipe.data.preprocessing import Preprocessing
from rnnpipe.decoding.time_limit import check_time, time_limit
from rnnpipe.errors import InputRowError, shown
from rnnpipe.rnn import GRU, LSTM, RecurrentLayer, VanillaRNN
from rnnpipe.training.request_limits import RequestLimits

CHECKPOINT_KEY = "rnnpipe"
CELLS = {"vanilla": VanillaRNN, "gru": GRU, "lstm": LSTM}


class TaskModule(L.LightningModule):
    input_columns: ClassVar[tuple[str, ...]] = ("text",)  # the serving DataFrame's inputs
    output_columns: ClassVar[tuple[str, ...]]  # one row of these per input
    input_description: ClassVar[str] = "a 'text' column of raw texts"  # said when it is missing
    predict_batch_size: ClassVar[int] = 64
    unsaved_arguments: ClassVar[tuple[str, ...]] = ()  # data, not hyperparameters (vectors)
    # embedding module path -> the fitted tokenizer whose tokens its rows are: model.init_from
    # copies such rows by token (rnnpipe.training.init_from)
    embedding_vocabularies: ClassVar[dict[str, str]] = {}
    # output layer path -> the tokenizer whose tokens its rows (weight and bias) score: copied
    # by token too, so a language model passes on what it learnt to predict
    output_vocabularies: ClassVar[dict[str, str]] = {}
    # scoring method -> how an ensemble combines its members' outputs (rnnpipe.training.ensemble);
    # none: the task has no ensembles
    ensemble_methods: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None,
        preprocessing: Mapping[str, Any] | None = None,
        data_config: Mapping[str, Any] | None = None,
        warmup: Mapping[str, Any] | None = None,  # a task without the key trains without one
        serving: Mapping[str, Any] | None = None,  # a task that is not served has none
    ):
        super().__init__()
        ignored = ["preprocessing", "data_config", *self.unsaved_arguments]
        self.save_hyperparameters(ignore=ignored, logger=False)
        self.optimizer_config = dict(optimizer)
        self.scheduler_config = dict(scheduler) if scheduler else None
        self.warmup_config = dict(warmup) if warmup else None
        self.preprocessing = Preprocessing(preprocessing)
        self.data_config = dict(data_config or {})
        # the resolved config of the run that trains this module (set by rnnpipe-train): saved
        # in every checkpoint, so that a resume restores it
        self.run_config: dict[str, Any] = {}
        # what one request may ask of the served model; none in a checkpoint from before requests
        # were bounded (it predicts texts, but is not served: predict_frame refuses it)
        self.request_limits = (
            RequestLimits.declared(serving, self.serving_params()) if serving else None
        )

    # -- the recurrent layers ------------------------------------------------------------------
    def recurrent_layer(
        self,
        input_size: int,
        hidden_size: int,
        bidirectional: bool = False,
        num_layers: int | None = None,
    ) -> RecurrentLayer:
        """A recurrent layer from the task's config: its ``num_layers`` (unless given), its
        ``dropout`` between layers when there are two or more, its ``bptt``; the vanilla RNN's
        ``nonlinearity``, and its ``init`` and ``identity_scale`` for a task that has them; a
        GRU or an LSTM instead for a task with a ``cell`` other than ``vanilla``."""
        hp = self.hparams
        layers = hp.num_layers if num_layers is None else num_layers
        common = {
            "num_layers": layers,
            "dropout": hp.dropout if layers > 1 else 0.0,
            "bidirectional": bidirectional,
            "bptt": hp.bptt,
        }
        cell = hp.get("cell", "vanilla")
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {tuple(CELLS)}, got {cell!r}")
        if cell != "vanilla":
            return CELLS[cell](input_size, hidden_size, **common)
        initialisation = {key: hp[key] for key in ("init", "identity_scale") if key in hp}
        return VanillaRNN(
            input_size, hidden_size, nonlinearity=hp.nonlinearity, **common, **initialisation
        )

    def recurrent_layers(self) -> dict[str, RecurrentLayer]:
        """Every recurrent layer by its attribute path, the one the task reads its input
        sequence with first."""
        return {name: m for name, m in self.named_modules() if isinstance(m, RecurrentLayer)}

    @property
    def is_ensemble(self) -> bool:
        """Whether this model leads an ensemble (:func:`rnnpipe.training.ensemble.ensemble`)."""
        return "ensemble_members" in self._modules

    @staticmethod
    def hidden_state(final: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
        """``h_n`` of a recurrent layer's final state (the LSTM's is ``(h_n, c_n)``)."""
        return final[0] if isinstance(final, tuple) else final

    # -- what a checkpoint carries besides the weights ----------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        tracked = isinstance(self.logger, MLFlowLogger)
        checkpoint[CHECKPOINT_KEY] = {
            "module": f"{type(self).__module__}.{type(self).__qualname__}",
            # the tracking run to continue when training resumes from this checkpoint (only an
            # MLflow logger's: under fast_dev_run Lightning's stand-in answers any attribute)
            "tracking_run_id": self.logger.run_id if tracked else None,
            "preprocessing": self.preprocessing.state,
            "data_config": self.data_config,
            "config": self.run_config or None,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint[CHECKPOINT_KEY]
        self.preprocessing = Preprocessing(saved["preprocessing"])
        self.data_config = saved["data_config"]

    def tokenizer(self, name: str = "tokenizer") -> Tokenizer:
        """A fitted tokenizer from the preprocessing state."""
        return self.preprocessing.tokenizer(name)

    # -- optimisation --------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        """The optimizer; the ``scheduler``, stepped each epoch (``ReduceLROnPlateau`` on
        ``val/loss``); the ``warmup``, stepped after each optimizer step. The warmup should be
        a chainable scheduler (``torch.optim.lr_scheduler.LinearLR``): it multiplies the rate
        it finds, so it combines with any epoch scheduler, and stays put once warmed up."""
        optimizer = instantiate(self.optimizer_config, params=self.parameters())
        schedulers = []
        if self.warmup_config is not None:
            warmup = instantiate(self.warmup_config, optimizer=optimizer)
            schedulers.append({"scheduler": warmup, "interval": "step"})
        if self.scheduler_config is not None:
            scheduler = instantiate(self.scheduler_config, optimizer=optimizer)
            schedulers.append({"scheduler": scheduler, "monitor": "val/loss"})
        return ([optimizer], schedulers) if schedulers else optimizer

    def log_token_nll(self, stage: str, nll: MeanMetric) -> torch.Tensor:
        """Log the mean negative log-likelihood per token as ``<stage>/loss`` (nats) and its
        ``<stage>/perplexity``; the metric is reset, its value returned."""
        value = nll.compute()
        nll.reset()
        self.log(f"{stage}/loss", value)
        self.log(f"{stage}/perplexity", value.exp())
        return value

    # -- serving -------------------------------------------------------------------------------
    def predict_frame(self, frame: pd.DataFrame, **params: Any) -> pd.DataFrame:
        """One request (the MLflow pyfunc's): raw inputs in the ``input_columns`` of ``frame``
        (a row fills at least one), one row of :meth:`prediction_columns` out per input.
        ``params`` override :meth:`serving_params` for this call only. The request is held to
        the model's :class:`RequestLimits` (its params' ranges, its rows and characters, its
        time) before anything is predicted."""
        limits = self.request_limits
        if limits is None:
            raise ValueError(
                "model: expected request limits (model.serving) to serve it, got a checkpoint "
                "saved before them; train it again"
            )
        settings = limits.settings(self.serving_params(), params)
        limits.check_size(frame, self.input_columns)
        with time_limit(limits.max_seconds):
            return self.predictions(frame, settings)

    def predictions(self, frame: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
        """:meth:`predict_frame` without its limits. Every input is checked before any is
        predicted, so a bad input is reported by the first bad row (0-based)."""
        if not set(self.input_columns) & set(frame.columns):
            raise ValueError(
                f"expected {self.input_description}, got columns {shown(list(frame.columns))}"
            )
        inputs = [
            self.parse_input(row, record) for row, record in enumerate(frame.to_dict("records"))
        ]
        self.eval()
        with torch.no_grad():
            rows = self.predict_inputs(inputs, **settings)
        # a column no row fills is one this call does not output (a generator's length without
        # length buckets, a translator's n-best lists for n_best 1)
        columns = [c for c in self.prediction_columns() if not rows or any(c in r for r in rows)]
        return pd.DataFrame(rows, columns=columns)

    def prediction_columns(self) -> list[str]:
        """The columns :meth:`predict_frame` may output: ``output_columns``, and any a task
        names from its hyperparameters (a classifier's probability of each class)."""
        return list(self.output_columns)

    def serving_params(self) -> dict[str, Any]:
        """The per-request params the served model takes, each at this model's own setting
        (its hyperparameters): MLflow's ParamSchema is inferred from them. None by default.
        Called while the module is built: it reads ``self.hparams`` only."""
        return {}

    def predict_texts(self, texts: Sequence[Any]) -> pd.DataFrame:
        """Predictions for a list of inputs of the first input column, at the model's own
        settings (``rnnpipe-predict``): a local file of any length, not a request, so
        :meth:`predict_frame`'s limits do not apply."""
        frame = pd.DataFrame({self.input_columns[0]: list(texts)})
        return self.predictions(frame, self.serving_params())

    def predict_inputs(self, inputs: list[Any], **settings: Any) -> list[dict[str, Any]]:
        """Output rows for parsed inputs, ``predict_batch_size`` at a time."""
        rows = []
        for start in range(0, len(inputs), self.predict_batch_size):
            check_time()  # the request's time limit (rnnpipe.decoding.time_limit)
            rows += self.predict_batch(inputs[start : start + self.predict_batch_size], **settings)
        return rows

    def check_input_length(self, row: int, column: str, length: int) -> None:
        """Refuse an input of more tokens than the data config's ``max_tokens``: serving stays
        within the memory training was bounded to (older checkpoints carry no limit)."""
        limit = self.data_config.get("max_tokens")
        if limit is not None and length > limit:
            raise InputRowError(
                row, column, f"at most {limit} tokens (data.max_tokens)", f"{length} tokens"
            )

    def parse_input(self, row: int, record: dict[str, Any]) -> Any:
        """One input row, checked and encoded; an :class:`~rnnpipe.errors.InputRowError` names
        the row and what was wrong with it."""
        raise NotImplementedError

    def predict_batch(self, inputs: list[Any], **settings: Any) -> list[dict[str, Any]]:
        """Output rows for parsed inputs, under the :meth:`serving_params` ``settings``."""
        raise NotImplementedError

    def serving_example(self) -> pd.DataFrame:
        """A small input frame: the MLflow signature and input example are made from it."""
        raise NotImplementedError

    # -- reports -------------------------------------------------------------------------------
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


def save_table(frame: pd.DataFrame, path: Path) -> Path:
    """A report table as TSV, its folder made, written whole or not at all."""
    with written_whole(path) as partial:
        frame.to_csv(partial, sep="\t", index=False)
    return path


def length_mask(lengths: torch.Tensor, steps: int, device: torch.device) -> torch.Tensor:
    """``(B, T)`` bool, true on each sequence's own steps."""
    return torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]
