"""The memory sweep run for real, over two presets and two seeds: a job per preset and seed,
one parent run per preset with aggregates equal to what its seeds' own metrics give, and the
pruning of every job's checkpoints but the best one's."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from rnnpipe.config import PROJECT_ROOT

pytestmark = pytest.mark.slow

T_975_1 = 12.706204736174707  # Student's t, 97.5 % quantile, 1 degree of freedom


def test_a_sweep_over_presets_and_seeds_makes_one_parent_run_per_preset(tmp_path):
    command = [
        sys.executable, "-m", "rnnpipe.cli.train",
        "experiment=memory_sweep",  # a multirun by itself (hydra.mode: MULTIRUN)
        "rnn=irnn,lstm", "seed=1,2", "data.steps=6",  # narrowed from the recipe's 4 x 5 jobs
        "data.train_size=32", "data.val_size=8", "data.test_size=8", "data.batch_size=16",
        "model.hidden_size=4", "trainer.max_epochs=2",
        f"paths.output_dir={tmp_path}/outputs", f"paths.tracking_dir={tmp_path}",
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]

    store = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("adding").experiment_id])
    parents = [r for r in runs if "rnnpipe.group_size" in r.data.tags]
    jobs = [r for r in runs if "rnnpipe.group_size" not in r.data.tags]
    settings = sorted(
        tuple(r.data.params[f"model.{key}"] for key in ("cell", "nonlinearity", "init", "bptt"))
        + (r.data.params["data.steps"], r.data.params["seed"])
        for r in jobs
    )
    assert settings == [
        ("lstm", "relu", "default", "autograd", "6", "1"),
        ("lstm", "relu", "default", "autograd", "6", "2"),
        ("vanilla", "relu", "identity", "manual", "6", "1"),
        ("vanilla", "relu", "identity", "manual", "6", "2"),
    ]

    # seed groups: the job's overrides (the swept ones first, as Hydra lists them) but its seed
    others = " ".join(command[7:])
    assert {p.data.tags["rnnpipe.group"] for p in parents} == {
        f"data.steps=6 rnn={preset} experiment=memory_sweep {others}" for preset in ("irnn", "lstm")
    }
    for parent in parents:
        mine = [j for j in jobs if j.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        assert {j.data.params["seed"] for j in mine} == {"1", "2"}
        assert {j.data.tags["rnnpipe.group"] for j in mine} == {parent.data.tags["rnnpipe.group"]}
        for name in ("test/mse", "test/mse_ratio", "val/mse"):
            values = [j.data.metrics[name] for j in mine]
            mean, std = statistics.fmean(values), statistics.stdev(values)
            got = parent.data.metrics
            assert got[f"{name}/mean"] == pytest.approx(mean)
            assert got[f"{name}/std"] == pytest.approx(std)
            assert got[f"{name}/n"] == 2
            assert got[f"{name}/min"] == min(values) and got[f"{name}/max"] == max(values)
            half = T_975_1 * std / math.sqrt(2)
            assert got[f"{name}/ci95_low"] == pytest.approx(mean - half)
            assert got[f"{name}/ci95_high"] == pytest.approx(mean + half)
        assert [a.path for a in client.list_artifacts(parent.info.run_id, "plots")] == [
            "plots/val_curves.png"
        ]

    # retention: only the best job keeps its checkpoints (scripts/prune_checkpoints.py)
    [sweep_id] = {r.data.tags["rnnpipe.sweep_id"] for r in runs}
    script = PROJECT_ROOT / "scripts" / "prune_checkpoints.py"
    prune = [sys.executable, str(script), "--sweep-id", sweep_id, "--metric", "test/mse"]
    prune += ["--lower-is-better", "--tracking-uri", store]
    listed = subprocess.run(prune, capture_output=True, text=True, timeout=120, check=True)
    assert listed.stdout.count("would delete checkpoints/") == 3
    subprocess.run([*prune, "--apply"], capture_output=True, text=True, timeout=120, check=True)
    best = min(jobs, key=lambda r: r.data.metrics["test/mse"])
    kept = {r.info.run_id: [a.path for a in client.list_artifacts(r.info.run_id, "checkpoints")]
            for r in jobs}  # fmt: skip
    assert [run_id for run_id, files in kept.items() if files] == [best.info.run_id]
    assert all(client.list_artifacts(r.info.run_id, "config") for r in jobs)  # the rest stays
