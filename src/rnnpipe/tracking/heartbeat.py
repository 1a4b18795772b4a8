"""Runs that cannot be left RUNNING: a process killed with SIGKILL, by the OOM killer or a power
loss never closes its MLflow run. A running job keeps a heartbeat tag fresh; the next
``rnnpipe-train`` or ``rnnpipe-evaluate`` on the store marks FAILED every RUNNING run of any
experiment (comparisons included) whose heartbeat is older than ``logger.stale_after_seconds``.

Only MLflow's own API is used (a filtered ``search_runs``), so the same works on a SQLite store
and against a tracking server, for jobs on any node (no process ids or host names).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import lightning as L
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.entities import Run

from rnnpipe.tracking.logger import ResilientMLFlowLogger, record

HEARTBEAT_TAG = "rnnpipe.heartbeat"  # UTC, ISO 8601: when the run was last seen making progress
FAILURE_TAG = "rnnpipe.failure"


class Heartbeat(L.Callback):
    """Set the MLflow run's heartbeat tag when a trainer starts and then at most every
    ``every_seconds``, from the end of training, validation and test batches.

    From the batch hooks rather than a thread: a beat means the run is making progress (a job
    hung in a deadlock goes stale too), and it never shares MLflow's client with the logger
    from another thread. Between trainer calls (start-up, the artifact upload at the end)
    nothing beats, so ``logger.stale_after_seconds`` must exceed what those take.
    """

    def __init__(self, every_seconds: float):
        self.every_seconds = every_seconds
        self.last_beat = -float("inf")

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.beat(trainer, force=True)

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        self.beat(trainer)

    def on_validation_batch_end(self, trainer: L.Trainer, *args) -> None:
        self.beat(trainer)

    def on_test_batch_end(self, trainer: L.Trainer, *args) -> None:
        self.beat(trainer)

    def beat(self, trainer: L.Trainer, force: bool = False) -> None:
        due = force or time.monotonic() - self.last_beat >= self.every_seconds
        if not (due and trainer.is_global_zero):
            return
        self.last_beat = time.monotonic()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for logger in trainer.loggers:
            if isinstance(logger, MLFlowLogger):
                record(
                    logger,
                    "the heartbeat",
                    lambda logger=logger: logger.experiment.set_tag(
                        logger.run_id, HEARTBEAT_TAG, now
                    ),
                )


def last_sign_of_life(run: Run) -> datetime:
    """The run's heartbeat; for a run from before heartbeats, its start time (so a dead one is
    still closed, while a live one, once wrongly marked, ends FINISHED when it closes itself)."""
    heartbeat = run.data.tags.get(HEARTBEAT_TAG)
    if heartbeat:
        return datetime.fromisoformat(heartbeat)
    return datetime.fromtimestamp(run.info.start_time / 1000, UTC)


def fail_stale_runs(logger: MLFlowLogger) -> list[str]:
    """Mark FAILED, with a :data:`FAILURE_TAG` saying why, every RUNNING run of the store (its
    own run aside) not seen alive for ``logger.stale_after_seconds``, in every experiment: a
    comparison or an evaluation killed mid-way is found as a training is; return their ids.
    Other loggers have no such setting: nothing is done."""
    if not isinstance(logger, ResilientMLFlowLogger):
        return []
    client = logger.experiment
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    running = client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'")
    now = datetime.now(UTC)
    failed = []
    for run in running:
        seen = last_sign_of_life(run)
        stale = (now - seen).total_seconds() > logger.stale_after_seconds
        if run.info.run_id == logger.run_id or not stale:
            continue
        reason = (
            f"no heartbeat since {seen.isoformat(timespec='seconds')}: the process died "
            "without closing the run"
        )
        client.set_tag(run.info.run_id, FAILURE_TAG, reason)
        client.set_terminated(run.info.run_id, "FAILED")
        print(f"MLflow run {run.info.run_id} marked FAILED: {reason}")
        failed.append(run.info.run_id)
    return failed
