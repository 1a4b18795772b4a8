"""A real Hydra multirun in a subprocess: a run per job, one sweep id, failures contained."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow import MlflowClient

from rnnpipe.config import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_multirun_jobs_share_a_sweep_id_and_a_failing_job_loses_nothing(tmp_path):
    command = [
        sys.executable,
        "-m",
        "rnnpipe.cli.train",
        "--multirun",
        "model.nonlinearity=tanh,sigmoid,relu",  # the middle job fails: no such nonlinearity
        "model.hidden_size=8",
        "model.embedding_dim=8",
        "trainer.max_epochs=1",
        f"paths.output_dir={tmp_path}/outputs",
        f"paths.tracking_dir={tmp_path}",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode != 0, "a failed job must fail the sweep's exit status"
    assert "sigmoid" in finished.stderr

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    assert sorted(r.data.params["model.nonlinearity"] for r in runs) == ["relu", "tanh"]
    assert {r.info.status for r in runs} == {"FINISHED"}
    sweep_ids = {r.data.tags["rnnpipe.sweep_id"] for r in runs}
    assert len(sweep_ids) == 1
    assert sorted(r.data.tags["rnnpipe.job_num"] for r in runs) == ["0", "2"]
    [sweep_dir] = (tmp_path / "outputs" / "sentiment" / "multirun").iterdir()
    assert sweep_ids == {sweep_dir.name}


def test_the_memory_sweep_runs_a_job_per_length_and_cell_preset(tmp_path):
    command = [
        sys.executable, "-m", "rnnpipe.cli.train",
        "experiment=memory_sweep",  # a multirun by itself (hydra.mode: MULTIRUN)
        "data.steps=6", "rnn=irnn,lstm",  # narrowed from the recipe's 4 x 5 jobs
        "data.train_size=32", "data.val_size=8", "data.test_size=8", "data.batch_size=16",
        "model.hidden_size=4", "trainer.max_epochs=1",
        f"paths.output_dir={tmp_path}/outputs", f"paths.tracking_dir={tmp_path}",
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("adding").experiment_id])
    jobs = sorted(
        tuple(r.data.params[f"model.{key}"] for key in ("cell", "nonlinearity", "init", "bptt"))
        + (r.data.params["data.steps"],)
        for r in runs
    )
    assert jobs == [
        ("lstm", "relu", "default", "autograd", "6"),
        ("vanilla", "relu", "identity", "manual", "6"),
    ]
    assert all("test/mse" in r.data.metrics for r in runs)

    # retention: only the best job keeps its checkpoints (scripts/prune_checkpoints.py)
    [sweep_id] = {r.data.tags["rnnpipe.sweep_id"] for r in runs}
    script = PROJECT_ROOT / "scripts" / "prune_checkpoints.py"
    prune = [sys.executable, str(script), "--sweep-id", sweep_id, "--metric", "test/mse"]
    prune += ["--lower-is-better", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db"]
    listed = subprocess.run(prune, capture_output=True, text=True, timeout=120, check=True)
    assert listed.stdout.count("would delete checkpoints/") == 1
    subprocess.run([*prune, "--apply"], capture_output=True, text=True, timeout=120, check=True)
    best = min(runs, key=lambda r: r.data.metrics["test/mse"])
    kept = {r.info.run_id: [a.path for a in client.list_artifacts(r.info.run_id, "checkpoints")]
            for r in runs}  # fmt: skip
    assert [run_id for run_id, files in kept.items() if files] == [best.info.run_id]
    assert all(client.list_artifacts(r.info.run_id, "config") for r in runs)  # the rest stays
