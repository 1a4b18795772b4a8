"""SIGTERM and SIGINT stop ``rnnpipe-train`` with a checkpoint at the step reached, the MLflow run
KILLED and exit status 128 + the signal; ``ckpt_path=last`` then ends as an uninterrupted run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from mlflow import MlflowClient
from test_resume import rnnpipe_train

pytestmark = pytest.mark.slow

METRICS = ("val/loss", "val/f1", "test/loss", "test/acc", "test/f1")


def signal_at_step(name: str, step: int) -> list[str]:
    return [
        "+callbacks.signal._target_=fault_injection.KillAtStep",
        f"+callbacks.signal.step={step}",
        f"+callbacks.signal.signal={name}",
    ]


def only_run(tracking_dir) -> object:
    client = MlflowClient(f"sqlite:///{tracking_dir}/mlflow.db")
    [run] = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    return run


def test_sigterm_mid_epoch_checkpoints_kills_the_run_and_resumes_exactly(tmp_path):
    with ThreadPoolExecutor(max_workers=1) as pool:  # the reference, in its own store meanwhile
        reference = pool.submit(
            rnnpipe_train, tmp_path, f"paths.tracking_dir={tmp_path}/reference", name="reference"
        )
        # 14 steps an epoch; SIGTERM comes while step 22's end hooks run, so the run stops at
        # the end of the next batch: step 23, nine batches into the second epoch
        stopped = rnnpipe_train(tmp_path, *signal_at_step("SIGTERM", 22), name="stopped")
        assert reference.result().returncode == 0, reference.result().stderr[-2000:]

    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert only_run(tmp_path).info.status == "KILLED"
    [last] = (tmp_path / "stopped").glob("**/checkpoints/last.ckpt")
    saved = torch.load(last, weights_only=True)
    assert saved["global_step"] == 23
    assert (saved["rnnpipe_resume"]["epoch"], saved["rnnpipe_resume"]["batches_done"]) == (1, 9)

    resumed = rnnpipe_train(tmp_path, "ckpt_path=last", name="stopped")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from {last}" in resumed.stdout
    run, uninterrupted = only_run(tmp_path), only_run(tmp_path / "reference")
    assert run.info.status == "FINISHED"
    for metric in METRICS:
        assert run.data.metrics[metric] == pytest.approx(
            uninterrupted.data.metrics[metric], abs=1e-6
        ), metric


def test_sigint_mid_epoch_exits_130_with_a_checkpoint_and_the_run_killed(tmp_path):
    stopped = rnnpipe_train(tmp_path, *signal_at_step("SIGINT", 8), name="stopped")

    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "KeyboardInterrupt" not in stopped.stderr
    assert only_run(tmp_path).info.status == "KILLED"
    [last] = (tmp_path / "stopped").glob("**/checkpoints/last.ckpt")
    assert torch.load(last, weights_only=True)["global_step"] == 9
