"""All of rnnpipe's MLflow knowledge: run set-up, params and tags, artifacts, the pyfunc model.

A training run is one MLflow run in the task's experiment (``sentiment``, ``ner``, ...):

* params: the whole resolved config, flattened (``model.hidden_size``, ``data.batch_size``, ...);
* tags: the git commit, the command line, the Hydra overrides, the sweep id of a multirun;
* metrics: whatever the task module logs through Lightning's ``MLFlowLogger``;
* artifacts: ``config/``, ``checkpoints/``, ``tokenizer/``, ``plots/``, ``predictions/``;
* a pyfunc ``model`` logged from code (``pyfunc_model.py``), registered as ``rnnpipe-<task>``.
"""

from __future__ import annotations

import logging
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_class, instantiate
from lightning.pytorch.loggers import Logger, MLFlowLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from mlflow.data.meta_dataset import MetaDataset
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.entities import DatasetInput, InputTag, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from omegaconf import DictConfig, OmegaConf

from rnnpipe.config import PROJECT_ROOT
from rnnpipe.data.text_file import count_lines, sha256_of
from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks import TaskModule, load_checkpoint
from rnnpipe.tasks.base import CHECKPOINT_KEY

log = logging.getLogger(__name__)

PYFUNC_MODEL_FILE = Path(__file__).with_name("pyfunc_model.py")
PACKAGE_DIR = Path(__file__).parent
SERVING_REQUIREMENTS = (
    "torch",
    "lightning",
    "mlflow",
    "tokenizers",
    "torchmetrics",
    "pandas",
    "hydra-core",
    "matplotlib",
)
MAX_PARAM_LENGTH = 6000  # MLflow's limit on one param value


class ResilientMLFlowLogger(MLFlowLogger):
    """Lightning's MLFlowLogger, made to survive the tracking server going away mid-run.

    The first call that fails switches the logger off-line: training carries on and keeps its
    checkpoints, and everything not recorded from then on is listed in ``unrecorded`` and
    warned about once. Against a server, MLflow's client is told to give up after seconds, not
    minutes (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``/``_TIMEOUT``, unless already set).
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.unrecorded: list[str] = []
        if str(self._tracking_uri).startswith(("http://", "https://")):
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

    @property
    def offline(self) -> bool:
        return bool(self.unrecorded)

    def record(self, what: str, call: Callable[[], Any]) -> Any:
        """Run ``call`` against MLflow unless off-line; on failure go off-line and note ``what``."""
        if self.offline:
            self.unrecorded.append(what)
            return None
        try:
            return call()
        except MlflowException as error:
            self.unrecorded.append(what)
            reason = str(error).splitlines()[0][:200]
            log.warning(
                "MLflow at %s failed (%s): %s not recorded; training goes on, checkpoints are kept"
                " locally and nothing more is sent to MLflow in this run",
                self._tracking_uri,
                reason,
                what,
            )
            return None

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        self.record("hyperparameters", lambda: MLFlowLogger.log_hyperparams(self, params))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        what = f"metrics {', '.join(sorted(metrics))} at step {step}"
        self.record(what, lambda: MLFlowLogger.log_metrics(self, metrics, step))

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        self.record(
            f"the run's final status ({status})", lambda: MLFlowLogger.finalize(self, status)
        )


def registered_model_name(task_name: str) -> str:
    return f"rnnpipe-{task_name}"


# -- run set-up ------------------------------------------------------------------------------
def check_reachable(tracking_uri: str, timeout: float = 5.0) -> None:
    """Fail within seconds, naming the URI, when a tracking server does not answer.

    (MLflow's own client retries for minutes before it gives up.) Local stores need no check.
    """
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=timeout):
            pass
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RnnpipeError(
            f"MLflow tracking server {tracking_uri} is unreachable ({reason}); start it with "
            "`make server` or choose another logger.tracking_uri"
        ) from None


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"model": {"hidden_size": 64}}`` -> ``{"model.hidden_size": "64"}`` (MLflow params)."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = str(value)[:MAX_PARAM_LENGTH]
    return flat


def git_commit(root: Path = PROJECT_ROOT) -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def command_line() -> str:
    """This process's command, as a user would type it again."""
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def run_tags(task_name: str) -> dict[str, str]:
    """Where a run came from: commit, command line, Hydra overrides, and the sweep it belongs to."""
    tags = {
        "rnnpipe.task": task_name,
        "mlflow.source.git.commit": git_commit(),
        "rnnpipe.command": command_line(),
    }
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        tags["rnnpipe.overrides"] = " ".join(hydra.overrides.task)
        if hydra.mode == RunMode.MULTIRUN:
            tags["rnnpipe.sweep_id"] = Path(hydra.sweep.dir).name
            tags["rnnpipe.sweep_dir"] = str(hydra.sweep.dir)
            tags["rnnpipe.job_num"] = str(hydra.job.num)
    return tags


def start_run(
    logger: MLFlowLogger,
    cfg: DictConfig,
    trainer: Any,
    data_files: Mapping[str, Path],
    extra_tags: Mapping[str, str] = (),
) -> str:
    """Create the run behind ``logger`` and record the config and provenance: params, tags, the
    hardware, the data files read; ``cfg.results_row`` marks a run for the README's results
    table (``make results``). Returns the run id."""
    check_reachable(logger._tracking_uri)
    client, run_id = logger.experiment, logger.run_id
    config = OmegaConf.to_container(cfg, resolve=True)
    params = [Param(key, value) for key, value in flatten(config).items()]
    tags = run_tags(cfg.task_name) | {"rnnpipe.hardware": hardware_description(trainer)}
    if cfg.get("results_row"):
        tags["rnnpipe.results_row"] = str(cfg.results_row)
    tags = [RunTag(key, value) for key, value in (tags | dict(extra_tags)).items()]
    for start in range(0, max(len(params), 1), 100):  # MLflow takes at most 100 params a call
        client.log_batch(
            run_id, params=params[start : start + 100], tags=tags if start == 0 else []
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(OmegaConf.to_yaml(cfg, resolve=True))
        client.log_artifact(run_id, str(path), "config")
    log_data_inputs(logger, data_files)
    return run_id


def log_data_inputs(logger: MLFlowLogger, files: Mapping[str, Path]) -> None:
    """Record exactly which data a run read: path, line count and SHA-256 of every input file,
    as tags (``rnnpipe.data.<role>.*``) and as MLflow dataset inputs (the run page's Datasets)."""
    client, run_id = logger.experiment, logger.run_id
    tags, inputs = [], []
    for role, path in files.items():
        path = Path(path).resolve()
        sha256, lines = sha256_of(path), count_lines(path)
        tags += [
            RunTag(f"rnnpipe.data.{role}.path", str(path)),
            RunTag(f"rnnpipe.data.{role}.sha256", sha256),
            RunTag(f"rnnpipe.data.{role}.lines", str(lines)),
        ]
        dataset = MetaDataset(
            LocalArtifactDatasetSource(str(path)), name=path.name, digest=sha256[:10]
        )
        inputs.append(
            DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", role)])
        )
    client.log_batch(run_id, tags=tags)
    if inputs:
        client.log_inputs(run_id, datasets=inputs)


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def hardware_description(trainer: Any) -> str:
    """What the run trained on, for the results table: GPU name or CPU model, cores, threads."""
    device = trainer.strategy.root_device
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)}"
    else:
        where = f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
    return where if trainer.world_size == 1 else f"{where} x {trainer.world_size} processes"


@contextmanager
def failure_marks_run(logger: MLFlowLogger | None) -> Iterator[None]:
    """Whatever fails inside leaves the run marked FAILED, never FINISHED."""
    try:
        yield
    except BaseException:
        if isinstance(logger, MLFlowLogger) and logger._initialized:
            try:
                logger.experiment.set_terminated(logger.run_id, "FAILED")
            except MlflowException as error:
                print(
                    f"warning: could not mark MLflow run {logger.run_id} FAILED: {error}",
                    file=sys.stderr,
                )
        raise


def record(logger: MLFlowLogger, what: str, call: Callable[[], Any]) -> Any:
    """``call`` against MLflow; with the resilient logger, a failure is noted, not raised."""
    if isinstance(logger, ResilientMLFlowLogger):
        return logger.record(what, call)
    return call()


# -- resuming ------------------------------------------------------------------------------
def run_id_in_checkpoint(checkpoint: str | Path) -> str | None:
    """The MLflow run a checkpoint was written by (None for untracked runs)."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    return saved.get(CHECKPOINT_KEY, {}).get("tracking_run_id")


def make_logger(logger_cfg: DictConfig | None, **mlflow_arguments: Any) -> Logger | None:
    """The configured logger. ``mlflow_arguments`` that are not None (a ``run_id`` to continue,
    an ``experiment_name``) apply only when it is an MLflow logger."""
    if not logger_cfg:
        return None
    arguments = {key: value for key, value in mlflow_arguments.items() if value is not None}
    if arguments and issubclass(get_class(logger_cfg._target_), MLFlowLogger):
        return instantiate(logger_cfg, **arguments)
    return instantiate(logger_cfg)


def continue_run(logger: MLFlowLogger, checkpoint: str | Path) -> str:
    """Reopen the run of a resumed training: same params, its metrics carry on from the
    checkpoint's step, and a tag says where it resumed from."""
    check_reachable(logger._tracking_uri)
    client, run_id = logger.experiment, logger.run_id
    client.update_run(run_id, status="RUNNING")
    client.set_tag(run_id, "rnnpipe.resumed_from", str(Path(checkpoint).resolve()))
    earlier = client.get_run(run_id).data.tags.get("rnnpipe.resume_commands", "")
    command = command_line()
    client.set_tag(run_id, "rnnpipe.resume_commands", "\n".join(filter(None, [earlier, command])))
    return run_id


# -- artifacts -------------------------------------------------------------------------------
def log_outputs(
    logger: MLFlowLogger, module: TaskModule, checkpoint: str | Path | None, reports_dir: Path
) -> None:
    """Best checkpoint, fitted tokenizers, the test reports (plots/, predictions/) and the
    module's scoring tags."""
    client, run_id = logger.experiment, logger.run_id
    for key, value in module.report_tags().items():
        client.set_tag(run_id, key, value)
    if checkpoint:
        client.log_artifact(run_id, str(checkpoint), "checkpoints")
    with tempfile.TemporaryDirectory() as tmp:
        for name, tokenizer_json in module.preprocessing.get("tokenizers", {}).items():
            (Path(tmp) / f"{name}.json").write_text(tokenizer_json)
        client.log_artifacts(run_id, tmp, "tokenizer")
    if reports_dir.is_dir():
        client.log_artifacts(run_id, str(reports_dir))


def log_model(
    logger: MLFlowLogger, module: TaskModule, checkpoint: str | Path, register: bool = True
) -> mlflow.models.model.ModelInfo:
    """Log the pyfunc model (from code, with the checkpoint as its one artifact) and register it.

    The model takes raw inputs in a DataFrame, so ``mlflow models serve`` answers plain JSON.
    """
    example = module.serving_example()
    signature = infer_signature(example, module.predict_frame(example))
    mlflow.set_tracking_uri(logger._tracking_uri)
    with mlflow.start_run(run_id=logger.run_id):
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_MODEL_FILE),
            artifacts={"checkpoint": str(checkpoint)},
            code_paths=[str(PACKAGE_DIR)],
            signature=signature,
            input_example=example,
            pip_requirements=[f"{name}=={version(name)}" for name in SERVING_REQUIREMENTS],
            registered_model_name=registered_model_name(module.task_name) if register else None,
        )


# -- getting a trained model back ------------------------------------------------------------
def load_task_module(reference: str, tracking_uri: str | None = None) -> TaskModule:
    """A task module from a checkpoint path or an MLflow model URI (``models:/rnnpipe-ner/1``,
    ``runs:/<run id>/model``, ``models:/rnnpipe-sentiment@champion``)."""
    if Path(reference).is_file():
        return load_checkpoint(reference)
    if ":/" not in reference:
        raise RnnpipeError(
            f"{reference}: expected a checkpoint file or an MLflow model URI "
            "(models:/<name>/<version>, runs:/<run id>/model), got neither"
        )
    if tracking_uri:
        check_reachable(tracking_uri)
        mlflow.set_tracking_uri(tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(reference)
    except (MlflowException, OSError) as error:
        message = getattr(error, "message", str(error)).splitlines()[0]
        raise RnnpipeError(f"{reference}: expected an MLflow model, got {message}") from None
    return model.unwrap_python_model().module
