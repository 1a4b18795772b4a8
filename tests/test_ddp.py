"""DDP on CPU: two gloo processes under Hydra make one MLflow run, recorded by rank 0."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def test_two_process_ddp_makes_one_mlflow_run(tmp_path):
    command = [
        sys.executable, "-m", "rnnpipe.cli.train", "trainer=ddp", "trainer.accelerator=cpu",
        "trainer.devices=2", "trainer.max_epochs=2", "model.hidden_size=8",
        "model.embedding_dim=8", "register_model=true", f"paths.output_dir={tmp_path}/outputs",
        f"paths.tracking_dir={tmp_path}",
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in finished.stderr

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    [run] = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["rnnpipe.hardware"].endswith("x 2 processes")
    # one value per epoch, from rank 0 only (two writers would double the history); each rank
    # trains on half of the 224 reviews, 4 batches of 32 an epoch, so epochs end at steps 3 and 7
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val/loss")]
    assert steps == [3, 7]
    assert {"test/acc", "test/f1"} <= run.data.metrics.keys()
    [version] = client.search_model_versions("name='rnnpipe-sentiment'")
    assert version.run_id == run.info.run_id
