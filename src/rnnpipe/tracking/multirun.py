"""What the jobs of a parallel multirun need done before they start (a Hydra callback).

``conf/hydra/launcher/{local_parallel,slurm}.yaml`` register :class:`PrepareTracking`, so
``rnnpipe-train -m hydra/launcher=local_parallel ...`` needs nothing more on the command line.
"""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from omegaconf import DictConfig

from rnnpipe.tracking.logger import check_reachable


def create_experiment(config: DictConfig) -> None:
    """Create the MLflow store (a SQLite file gets its tables) and the config's experiment,
    as the logger would on its first call; an experiment another job just created is fine."""
    logger = config.get("logger")
    if not logger or not logger.get("tracking_uri") or not logger.get("experiment_name"):
        return
    check_reachable(logger.tracking_uri)
    client = MlflowClient(logger.tracking_uri)
    if client.get_experiment_by_name(logger.experiment_name) is not None:
        return
    try:
        client.create_experiment(
            logger.experiment_name, artifact_location=logger.get("artifact_location")
        )
    except MlflowException as error:
        if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise


class PrepareTracking(Callback):
    """Jobs started at once on a fresh SQLite store all create its tables, and all but one fail
    (alembic: "Online migration expected to match one row"); jobs of a task new to the store all
    create its experiment, and all but one fail (it already exists). So the launching process
    creates the store and the sweep's experiment before any job starts, and each job creates
    its own task's experiment before training (a sweep over ``experiment=ner,translation``),
    tolerating a job beside it that got there first."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        create_experiment(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        create_experiment(config)
