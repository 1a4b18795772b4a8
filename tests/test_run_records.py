"""What a training run tells a reader in the MLflow UI: a name of its own, a description, and
the machine's load while it trained. Real training runs in a real MLflow store in tmp_path."""

from __future__ import annotations

import threading

import pytest
from conftest import compose_in
from hydra.core.hydra_config import HydraConfig
from mlflow import MlflowClient

from rnnpipe.cli.train import train
from rnnpipe.tracking.logger import ResilientMLFlowLogger, failure_marks_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny trainings with the same seed into one store, sampling the machine ten times a
    second: a fit here can take under half a second, and MLflow publishes a sample only after
    its interval has passed (at 0.5 s, none was recorded)."""
    tmp_path = tmp_path_factory.mktemp("two_runs")
    results = []
    for run in ("first", "second"):
        cfg = compose_in(
            tmp_path, "seed=7", "trainer.max_epochs=2", "model.hidden_size=8",
            "model.embedding_dim=8", "logger.system_metrics_every_seconds=0.1",
            "log_model=false", f"paths.run_dir={tmp_path}/{run}",
        )  # fmt: skip
        results.append(train(cfg))
    HydraConfig.instance().cfg = None
    client = MlflowClient(cfg.logger.tracking_uri)
    experiment = client.get_experiment_by_name("sentiment")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time"])
    return client, runs, results


def test_runs_with_the_same_seed_get_different_names(two_runs):
    _, runs, _ = two_runs
    first, second = (run.info.run_name for run in runs)
    assert first != second
    assert first.startswith("sentiment-") and second.startswith("sentiment-")


def test_the_description_names_task_data_hyperparameters_and_result(two_runs):
    _, runs, results = two_runs
    note = runs[0].data.tags["mlflow.note.content"]
    assert "**sentiment** on reviews_sample.tsv" in note
    for setting in ("cell vanilla", "hidden size 8", "layers 1", "nonlinearity tanh"):
        assert setting in note, setting
    assert "init default" in note and "AdamW lr 0.003" in note and "up to 2 epochs" in note
    assert f"test/acc {results[0]['test/acc']:.4f}" in note
    assert f"test/f1 {results[0]['test/f1']:.4f}" in note


def test_system_metrics_are_sampled_while_training_and_stop_with_it(two_runs):
    client, runs, _ = two_runs
    run_id = runs[0].info.run_id
    assert "system/cpu_utilization_percentage" in runs[0].data.metrics
    assert "system/system_memory_usage_megabytes" in runs[0].data.metrics
    history = client.get_metric_history(run_id, "system/cpu_utilization_percentage")
    assert [point.step for point in history] == list(range(len(history)))
    assert "SystemMetricsMonitor" not in {thread.name for thread in threading.enumerate()}


def test_a_failing_run_stops_its_system_metrics(tmp_path):
    logger = ResilientMLFlowLogger(
        experiment_name="sentiment", run_name=None, tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
        stale_after_seconds=600, system_metrics_every_seconds=0.5,
    )  # fmt: skip
    logger.start_system_metrics()
    assert "SystemMetricsMonitor" in {thread.name for thread in threading.enumerate()}
    with pytest.raises(RuntimeError), failure_marks_run(logger):
        raise RuntimeError("training broke")
    assert "SystemMetricsMonitor" not in {thread.name for thread in threading.enumerate()}
    assert logger.experiment.get_run(logger.run_id).info.status == "FAILED"
