"""Where a run came from: params, tags and inputs that let anyone reproduce it.

* params: the whole resolved config, flattened (``model.hidden_size``, ``data.batch_size``, ...);
* tags: the git commit, the command line, the Hydra overrides, the sweep id of a multirun, the
  hardware, and the path, line count and SHA-256 of every data file read (also as MLflow
  dataset inputs);
* a resumed run: the same run reopened, with the commands that resumed it.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.data.meta_dataset import MetaDataset
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.entities import DatasetInput, InputTag, Param, RunTag
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf

from rnnpipe.config import PROJECT_ROOT, override_keys
from rnnpipe.data.text_file import count_lines, sha256_of
from rnnpipe.tracking.logger import ResilientMLFlowLogger, check_reachable
from rnnpipe.tracking.seed_groups import GROUP_TAG, VARIED_WITHIN_A_GROUP

MAX_PARAM_LENGTH = 6000  # MLflow's limit on one param value


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
            # the seed group: the job's overrides but its seed and fold (tracking/seed_groups.py)
            overrides = list(hydra.overrides.task)
            keys = override_keys(overrides)
            tags[GROUP_TAG] = " ".join(
                o
                for o, key in zip(overrides, keys, strict=True)
                if key not in VARIED_WITHIN_A_GROUP
            )
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
    start_system_metrics(logger)
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
        try:
            client.log_inputs(run_id, datasets=inputs)
        except MlflowException as error:
            # Two jobs of a parallel multirun that read the same files insert the same dataset
            # at the same moment, and a SQLite store refuses the second (a UNIQUE constraint):
            # retried, the dataset is found and only linked to this run.
            if "UNIQUE constraint failed" not in str(error):
                raise
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
    start_system_metrics(logger)
    return run_id


def start_system_metrics(logger: MLFlowLogger) -> None:
    """CPU, memory (and GPU) samples for the run, with the resilient logger's setting."""
    if isinstance(logger, ResilientMLFlowLogger):
        logger.start_system_metrics()
