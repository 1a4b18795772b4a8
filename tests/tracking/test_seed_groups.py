"""A real multirun over seeds: one parent run per config, the seeds nested under it, and its
aggregates equal to what the children's own metrics give."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from rnnpipe.tracking.promotion import identity_of_test_set

pytestmark = pytest.mark.slow

T_975_1 = 12.706204736174707  # Student's t, 97.5 % quantile, 1 degree of freedom


def test_a_sweep_over_seeds_makes_one_parent_run_per_config(tmp_path):
    command = [
        sys.executable, "-m", "rnnpipe.cli.train", "--multirun",
        "model.hidden_size=4,8", "seed=1,2",  # two configs x two seeds: two groups
        "model.embedding_dim=4", "trainer.max_epochs=2", "log_model=False",
        f"paths.output_dir={tmp_path}/outputs", f"paths.tracking_dir={tmp_path}",
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    parents = [r for r in runs if "rnnpipe.group_size" in r.data.tags]
    children = [r for r in runs if "rnnpipe.group_size" not in r.data.tags]
    assert len(parents) == 2 and len(children) == 4
    for parent in parents:
        group = parent.data.tags["rnnpipe.group"]
        mine = [c for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        assert len(mine) == 2 and {c.data.tags["rnnpipe.group"] for c in mine} == {group}
        assert {c.data.params["seed"] for c in mine} == {"1", "2"}
        assert len({identity_of_test_set(c) for c in mine}) == 1  # split_seed: same test set
        for name in ("test/acc", "test/f1", "val/loss"):
            values = [c.data.metrics[name] for c in mine]
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
    # the group is the job's overrides without its seed
    expected = {f"model.hidden_size={h} " + " ".join(command[6:]) for h in (4, 8)}
    assert {p.data.tags["rnnpipe.group"] for p in parents} == expected
