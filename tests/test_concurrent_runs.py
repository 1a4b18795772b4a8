"""Trainings launched together never mix: three ``rnnpipe-train`` started in the same second,
with different seeds, into a store that does not exist yet, each finish in a directory of its
own and report and record their own checkpoint and metrics."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.slow

SEEDS = (11, 12, 13)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_three_trainings_started_together_each_keep_their_own_run(tmp_path):
    command = [
        sys.executable, "-m", "rnnpipe.cli.train", "trainer.max_epochs=2",
        "model.hidden_size=8", "register_model=true", "promote=auto",
        "trainer.enable_progress_bar=false", "callbacks.progress_bar=null",
        f"paths.output_dir={tmp_path}/outputs", f"paths.tracking_dir={tmp_path}",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = [
        subprocess.Popen(
            [*command, f"seed={seed}"],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for seed in SEEDS
    ]
    outputs = [process.communicate(timeout=300) for process in started]
    for process, (_, err) in zip(started, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]

    store = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    said = {}
    for seed, (out, _) in zip(SEEDS, outputs, strict=True):
        run_id = re.search(r"MLflow run (\w+)", out).group(1)
        checkpoint = Path(re.search(r"best checkpoint: (\S+)", out).group(1))
        test_loss = float(re.search(r"test/loss\s+(\S+)", out).group(1))
        said[seed] = (run_id, checkpoint, test_loss)

    run_dirs = {checkpoint.parent.parent for _, checkpoint, _ in said.values()}
    assert len(run_dirs) == len(SEEDS)  # a directory each, though started in the same second
    assert len({loss for _, _, loss in said.values()}) == len(SEEDS)
    for seed, (run_id, checkpoint, test_loss) in said.items():
        run = store.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["seed"] == str(seed)
        assert run.data.metrics["test/loss"] == pytest.approx(test_loss, abs=1e-4)
        logged = Path(store.download_artifacts(run_id, f"checkpoints/{checkpoint.name}", tmp_path))
        assert sha256(logged) == sha256(checkpoint)  # its own checkpoint, not a neighbour's
        logged.unlink()

    versions = store.search_model_versions("name='rnnpipe-sentiment'")
    assert sorted(v.run_id for v in versions) == sorted(run_id for run_id, _, _ in said.values())
    champion = store.get_model_version_by_alias("rnnpipe-sentiment", "champion")
    accuracy = {v.run_id: store.get_run(v.run_id).data.metrics["test/acc"] for v in versions}
    assert accuracy[champion.run_id] == max(accuracy.values())
