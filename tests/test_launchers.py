"""Hydra launchers: a joblib multirun for real (parallel processes, one sweep, runs in MLflow),
and the SLURM launcher composed and checked against submitit (no cluster here to submit to)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import joblib
import pytest
import submitit
from conftest import tmp_path_overrides
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from mlflow import MlflowClient
from omegaconf import OmegaConf

from rnnpipe.config import CONFIG_DIR
from rnnpipe.tracking.multirun import PrepareTracking

pytestmark = pytest.mark.slow


def test_joblib_multirun_trains_two_jobs_in_parallel_processes_under_one_sweep(tmp_path):
    command = [
        sys.executable,
        "-m",
        "rnnpipe.cli.train",
        "--multirun",
        "hydra/launcher=local_parallel",
        "model.hidden_size=8,12",
        "model.embedding_dim=8",
        "trainer.max_epochs=1",
        "log_model=false",
        f"paths.output_dir={tmp_path}/outputs",
        f"paths.tracking_dir={tmp_path}",  # a fresh store: the jobs must not race to create it
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in finished.stdout + finished.stderr

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    assert sorted(r.data.params["model.hidden_size"] for r in runs) == ["12", "8"]
    assert {r.info.status for r in runs} == {"FINISHED"}
    [sweep_id] = {r.data.tags["rnnpipe.sweep_id"] for r in runs}
    [sweep_dir] = (tmp_path / "outputs" / "sentiment" / "multirun").iterdir()
    assert sweep_id == sweep_dir.name
    assert sorted(r.data.tags["rnnpipe.job_num"] for r in runs) == ["0", "1"]
    # loky gives each of the 2 workers its share of the cores, not all of them
    threads = {int(re.search(r"(\d+) threads", r.data.tags["rnnpipe.hardware"])[1]) for r in runs}
    assert threads == {max(joblib.cpu_count() // 2, 1)}


def test_slurm_launcher_composes_into_a_valid_submitit_slurm_job(tmp_path, monkeypatch):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                *tmp_path_overrides(tmp_path),
                "hydra/launcher=slurm",
                "hydra.launcher.partition=gpu",
                "hydra.launcher.gpus_per_node=1",
                "trainer=gpu",
            ],
            return_hydra_config=True,
        )
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_.endswith("hydra_submitit_launcher.submitit_launcher.SlurmLauncher")
    assert (launcher_cfg.partition, launcher_cfg.gpus_per_node, launcher_cfg.nodes) == ("gpu", 1, 1)
    assert launcher_cfg.submitit_folder == f"{cfg.hydra.sweep.dir}/.submitit/%j"
    assert sorted(c._target_ for c in cfg.hydra.callbacks.values()) == [
        "rnnpipe.tracking.multirun.PrepareTracking",  # the launcher's
        "rnnpipe.tracking.seed_groups.SeedGroups",  # every multirun's
    ]
    assert type(instantiate(launcher_cfg)).__name__ == "SlurmLauncher"  # what Hydra builds first

    # Hand submitit the parameters as SlurmLauncher.launch does: it rejects unknown ones and
    # writes the rest into the sbatch script it would submit (no sbatch here to submit it to).
    params = OmegaConf.to_container(launcher_cfg, resolve=True)
    del params["_target_"], params["submitit_folder"]
    shared = set(OmegaConf.structured(BaseQueueConf))
    fake_srun = tmp_path / "bin" / "srun"  # submitit looks for srun before it builds anything
    fake_srun.parent.mkdir()
    fake_srun.write_text("#!/bin/sh\nexit 1\n")
    fake_srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_srun.parent}:{os.environ['PATH']}")
    executor = submitit.AutoExecutor(
        folder=tmp_path / "submitit",
        cluster="slurm",
        slurm_max_num_timeout=params.pop("max_num_timeout"),
    )
    executor.update_parameters(
        **{key if key in shared else f"slurm_{key}": value for key, value in params.items()}
    )
    script = executor._executor._make_submission_file_text("python -m rnnpipe.train", "uid")
    for line in ("--partition=gpu", "--time=240", "--gpus-per-node=1", "--cpus-per-task=4"):
        assert f"#SBATCH {line}" in script
    # SLURM warns the job 120 s before its time limit with the signal submitit asks for (USR2),
    # one that rnnpipe's training stops on with a checkpoint
    assert "#SBATCH --signal=USR2@120" in script
    assert "SIGUSR2" in cfg.callbacks.checkpoint_on_signal.signals


def test_prepare_tracking_creates_the_store_and_the_experiment_once(compose_config, tmp_path):
    cfg = compose_config("experiment=ner", config_name="train")
    callback = PrepareTracking()
    callback.on_multirun_start(cfg)
    callback.on_job_start(cfg)  # a second job of the same task: nothing to do, no error
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    [experiment] = [e for e in client.search_experiments() if e.name == "ner"]
    assert experiment.artifact_location == f"{tmp_path}/mlartifacts/ner"
