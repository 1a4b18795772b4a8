"""A training process killed with SIGKILL mid-epoch resumes where it stopped and ends exactly
where an uninterrupted run with the same seed ends, in the same MLflow run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import PROJECT_ROOT
from mlflow import MlflowClient

pytestmark = pytest.mark.slow

TESTS_DIR = PROJECT_ROOT / "tests"


def rnnpipe_train(tmp_path, *overrides, name: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "rnnpipe.cli.train",
        "data.batch_size=16", "trainer.max_epochs=3", "model.hidden_size=16",
        "model.embedding_dim=8", "callbacks.step_checkpoint.every_n_train_steps=5",
        "callbacks.early_stopping=null", "log_model=false",
        f"paths.output_dir={tmp_path}/{name}", f"paths.tracking_dir={tmp_path}",
        *overrides,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path):
    # 224 training reviews / 16 = 14 steps an epoch: killed at step 22, the newest checkpoint is
    # step 20's, six steps into the second epoch
    killed = rnnpipe_train(
        tmp_path,
        "+callbacks.kill._target_=fault_injection.KillAtStep",
        "+callbacks.kill.step=22",
        "run_name=interrupted",
        name="interrupted",
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    [last] = (tmp_path / "interrupted").glob("**/checkpoints/last.ckpt")
    saved = torch.load(last, weights_only=True)
    assert saved["global_step"] == 20
    assert saved["rnnpipe_resume"]["epoch"] == 1
    assert saved["rnnpipe_resume"]["batches_done"] == 6

    resumed = rnnpipe_train(tmp_path, "ckpt_path=last", "run_name=interrupted", name="interrupted")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from {last}" in resumed.stdout

    uninterrupted = rnnpipe_train(tmp_path, "run_name=uninterrupted", name="uninterrupted")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    by_name = {run.info.run_name: run for run in runs}
    assert sorted(by_name) == ["interrupted", "uninterrupted"]  # the resume made no new run
    interrupted, reference = by_name["interrupted"], by_name["uninterrupted"]
    assert interrupted.info.status == "FINISHED"
    assert interrupted.data.tags["rnnpipe.resumed_from"] == str(last)
    assert "ckpt_path=last" in interrupted.data.tags["rnnpipe.resume_commands"]
    assert "ckpt_path" not in interrupted.data.tags["rnnpipe.command"]
    legs = client.get_metric_history(interrupted.info.run_id, "time/fit_seconds")
    assert len(legs) == 1  # the killed leg never reached its end; the resumed one did

    for metric in ("val/loss", "val/f1", "test/loss", "test/acc", "test/f1"):
        assert interrupted.data.metrics[metric] == pytest.approx(
            reference.data.metrics[metric], abs=1e-6
        ), metric
    # the run's validation curve is whole: one value per epoch, continuing across the kill
    history = client.get_metric_history(interrupted.info.run_id, "val/loss")
    reference_history = client.get_metric_history(reference.info.run_id, "val/loss")
    assert [m.step for m in history] == [m.step for m in reference_history]
    assert [m.value for m in history] == pytest.approx([m.value for m in reference_history])
