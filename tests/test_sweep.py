"""A real Hydra multirun in a subprocess: a run per job, one sweep id, failures contained."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow import MlflowClient

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
