"""A NaN loss stops training with a message naming the step; the last good checkpoint stays."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import PROJECT_ROOT
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    command = [
        sys.executable, "-m", "rnnpipe.cli.train", "data.batch_size=16", "trainer.max_epochs=3",
        "model.hidden_size=8", "model.embedding_dim=8",
        "callbacks.step_checkpoint.every_n_train_steps=5",
        "+callbacks.poison._target_=fault_injection.PoisonWeightsAtStep",
        "+callbacks.poison.step=22",
        f"paths.output_dir={tmp_path}/outputs", f"paths.tracking_dir={tmp_path}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "tests")}
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    assert finished.returncode == 1
    [last] = (tmp_path / "outputs").rglob("last.ckpt")
    [error] = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    assert error == (
        f"error: training loss became nan at step 23 (epoch 1, batch 8); stopped. "
        f"Last good checkpoint: {last}"
    )
    saved = torch.load(last, weights_only=True)
    assert saved["global_step"] == 20
    assert all(torch.isfinite(tensor).all() for tensor in saved["state_dict"].values())

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    [run] = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    assert run.info.status == "FAILED"
    assert client.search_model_versions("name='rnnpipe-sentiment'") == []
