"""A run whose process died without closing it (SIGKILL) is marked FAILED when rnnpipe next
starts training on the store; a run whose heartbeat is fresh is left RUNNING."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from mlflow import MlflowClient
from test_resume import rnnpipe_train

from rnnpipe.cli.train import train

pytestmark = pytest.mark.slow

TINY = ("trainer.max_epochs=1", "model.hidden_size=8", "model.embedding_dim=8", "log_model=false")


def runs_by_name(tracking_dir) -> dict:
    client = MlflowClient(f"sqlite:///{tracking_dir}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    return {run.info.run_name: run for run in runs}


def test_a_run_killed_with_sigkill_is_failed_at_the_next_training_start(compose_config, tmp_path):
    killed = rnnpipe_train(
        tmp_path,
        "+callbacks.kill._target_=fault_injection.KillAtStep",
        "+callbacks.kill.step=5",
        "run_name=killed",
        name="killed",
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    dead = runs_by_name(tmp_path)["killed"]
    assert dead.info.status == "RUNNING"  # what SIGKILL leaves behind without the sweep

    time.sleep(2)  # the killed run's last heartbeat is now older than the 1 s this test allows
    train(compose_config(*TINY, "logger.stale_after_seconds=1", "run_name=next"))

    runs = runs_by_name(tmp_path)
    assert runs["killed"].info.status == "FAILED"
    heartbeat = dead.data.tags["rnnpipe.heartbeat"]
    assert runs["killed"].data.tags["rnnpipe.failure"] == (
        f"no heartbeat since {heartbeat}: the process died without closing the run"
    )
    assert runs["next"].info.status == "FINISHED"


def test_only_runs_without_a_recent_heartbeat_are_failed(compose_config, tmp_path):
    cfg = compose_config(*TINY, "logger.stale_after_seconds=600", "run_name=next")
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment_id = client.create_experiment("sentiment", f"{tmp_path}/mlartifacts/sentiment")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    heartbeats = {"fresh": datetime.now(UTC), "stale": an_hour_ago}
    for name, beat in heartbeats.items():
        client.create_run(
            experiment_id,
            run_name=name,
            tags={"rnnpipe.heartbeat": beat.isoformat(timespec="seconds")},
        )
    # a run of an rnnpipe from before heartbeats: its start time counts instead
    for name, started in {"old_alive": datetime.now(UTC), "old_dead": an_hour_ago}.items():
        client.create_run(experiment_id, run_name=name, start_time=int(started.timestamp() * 1000))

    train(cfg)

    runs = runs_by_name(tmp_path)
    assert {name: run.info.status for name, run in runs.items()} == {
        "fresh": "RUNNING",
        "stale": "FAILED",
        "old_alive": "RUNNING",
        "old_dead": "FAILED",
        "next": "FINISHED",
    }
    assert "rnnpipe.heartbeat" in runs["next"].data.tags  # the run beat for itself


def test_a_comparison_killed_mid_way_is_failed_by_the_next_training(compose_config, tmp_path):
    cfg = compose_config(*TINY, "logger.stale_after_seconds=600", "run_name=next")
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    comparisons = client.create_experiment("comparisons")
    an_hour_ago = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    killed = client.create_run(comparisons, run_name="killed compare", start_time=an_hour_ago)

    train(cfg)

    assert client.get_run(killed.info.run_id).info.status == "FAILED"
