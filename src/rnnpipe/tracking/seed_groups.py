"""Seed groups: the runs of a multirun that differ only in ``seed`` (and ``data.fold``, or
``rnnpipe-evaluate``'s ``fold``), under one parent run.

One seed's score is one draw: ``rnnpipe-train -m ... seed=1,2,3`` is how a config is measured,
and ``rnnpipe-train -m ... data.folds=5 'data.fold=range(5)'`` is k-fold cross-validation.
When the multirun ends (a Hydra callback, in the launching process, whatever the launcher),
its finished runs are grouped by their overrides without ``seed`` and ``data.fold`` (tag
``rnnpipe.group``), and each group of two or more gets a parent run in the same experiment:

* the children carry ``mlflow.parentRunId``, so the MLflow UI shows them nested under it;
* for every ``val/`` and ``test/`` metric the children all have, the parent logs
  ``<metric>/mean``, ``/std`` (sample standard deviation), ``/min``, ``/max``, ``/n`` and the
  95 % t-interval of the mean, ``/ci95_low`` and ``/ci95_high``:
  mean +- t(0.975, n - 1) * std / sqrt(n);
* ``plots/val_curves.png``: every seed's curve of the selecting metric, their mean and band;
* the parents' run ids go to ``seed_groups.txt`` in the sweep directory, a line each.

A parent's ``runs:/<id>`` is also a model: the ensemble of its runs
(:func:`rnnpipe.tracking.loading.group_references`).
"""

from __future__ import annotations

import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from hydra.experimental.callback import Callback  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Run, RunTag  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from scipy.stats import t as student_t  # noqa: E402

from rnnpipe.atomic_files import write_text  # noqa: E402
from rnnpipe.training.plots import save_figure  # noqa: E402

GROUP_TAG = "rnnpipe.group"  # the job's overrides without these (set by provenance.run_tags):
VARIED_WITHIN_A_GROUP = ("seed", "data.fold", "fold")  # fold: rnnpipe-evaluate's, of a CV group
SIZE_TAG = "rnnpipe.group_size"  # only on a group's parent run
GROUPS_FILE = "seed_groups.txt"  # in the sweep directory: the parents' run ids, a line each
AGGREGATED_PREFIXES = ("val/", "test/")
SHARED_TAGS = ("rnnpipe.results_row", "rnnpipe.baseline")  # the parent takes them from its runs


def aggregate(values: list[float]) -> dict[str, float]:
    """mean, std, min, max, n and the 95 % t-interval of the mean of one metric over seeds."""
    n = len(values)
    mean, std = statistics.fmean(values), statistics.stdev(values)
    half_width = student_t.ppf(0.975, n - 1) * std / math.sqrt(n)
    return {
        "mean": mean, "std": std, "min": min(values), "max": max(values), "n": float(n),
        "ci95_low": mean - half_width, "ci95_high": mean + half_width,
    }  # fmt: skip


def group_metrics(runs: list[Run]) -> dict[str, float]:
    """``<metric>/<statistic>`` for every val/ and test/ metric that all ``runs`` logged."""
    names = set.intersection(*(set(run.data.metrics) for run in runs))
    aggregated = {}
    for name in sorted(n for n in names if n.startswith(AGGREGATED_PREFIXES)):
        for statistic, value in aggregate([run.data.metrics[name] for run in runs]).items():
            aggregated[f"{name}/{statistic}"] = value
    return aggregated


def save_curves(client: MlflowClient, runs: list[Run], metric: str, path: Path) -> bool:
    """Each run's ``metric`` by step, with the mean and a one-std band over the steps all runs
    logged; False when there is nothing to draw."""
    histories = {}
    for run in runs:
        logged = client.get_metric_history(run.info.run_id, metric)
        histories[run.info.run_name] = {m.step: m.value for m in logged}
    steps = sorted(set.intersection(*(set(h) for h in histories.values())))
    if not steps:
        return False
    figure, axes = plt.subplots(figsize=(7, 4))
    for name, history in histories.items():
        axes.plot(sorted(history), [history[s] for s in sorted(history)], alpha=0.35, label=name)
    means = [statistics.fmean(h[s] for h in histories.values()) for s in steps]
    stds = [statistics.stdev(h[s] for h in histories.values()) for s in steps]
    axes.plot(steps, means, color="black", label=f"mean of {len(runs)}")
    axes.fill_between(steps, [m - s for m, s in zip(means, stds, strict=True)],
                      [m + s for m, s in zip(means, stds, strict=True)], color="grey",
                      alpha=0.3, label="mean +- std")  # fmt: skip
    axes.set_xlabel("step")
    axes.set_ylabel(metric)
    axes.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path)
    return True


def make_group(client: MlflowClient, runs: list[Run], group: str, metric: str | None) -> str:
    """The parent run of ``runs`` (one group): aggregates, the curves plot; returns its id."""
    first = runs[0]
    tags = {
        GROUP_TAG: group,
        SIZE_TAG: str(len(runs)),
        "rnnpipe.sweep_id": first.data.tags.get("rnnpipe.sweep_id", ""),
        "rnnpipe.task": first.data.tags.get("rnnpipe.task", ""),
        "mlflow.note.content": f"{len(runs)} seeds of `{group or 'the same config'}`",
    }
    for shared in SHARED_TAGS:  # a results row made of seeds is the group's row
        values = {run.data.tags.get(shared) for run in runs}
        if len(values) == 1 and None not in values:
            tags[shared] = values.pop()
    parent = client.create_run(
        first.info.experiment_id, run_name=f"seeds: {group or 'defaults'}", tags=tags
    )
    parent_id = parent.info.run_id
    metrics = [Metric(key, value, 0, 0) for key, value in group_metrics(runs).items()]
    for start in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics a call
        client.log_batch(parent_id, metrics=metrics[start : start + 1000])
    if metric:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "val_curves.png"
            if save_curves(client, runs, metric, path):
                client.log_artifact(parent_id, str(path), "plots")
    for run in runs:
        client.log_batch(run.info.run_id, tags=[RunTag("mlflow.parentRunId", parent_id)])
    client.set_terminated(parent_id, "FINISHED")
    return parent_id


def is_group(run: Run) -> bool:
    """Whether ``run`` is a group's parent run."""
    return SIZE_TAG in run.data.tags


def group_members(client: MlflowClient, parent: Run) -> list[Run]:
    """The runs nested under a group's parent run."""
    return client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
        max_results=5000,
    )


def finished_runs_of_sweep(client: MlflowClient, sweep_id: str) -> list[Run]:
    """The FINISHED runs tagged with the multirun's ``rnnpipe.sweep_id``, in every experiment
    (a sweep may span tasks); seed-group parents carry the tag too."""
    return client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`rnnpipe.sweep_id` = '{sweep_id}' and attributes.status = 'FINISHED'",
        max_results=5000,
    )


def make_groups(client: MlflowClient, sweep_id: str, metric: str | None) -> list[str]:
    """A parent run for each group of two or more finished runs of the sweep ``sweep_id``."""
    runs = finished_runs_of_sweep(client, sweep_id)
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        if GROUP_TAG in run.data.tags and "mlflow.parentRunId" not in run.data.tags:
            key = (run.info.experiment_id, run.data.tags[GROUP_TAG])
            groups.setdefault(key, []).append(run)
    return [
        make_group(client, members, group, metric)
        for (_, group), members in sorted(groups.items())
        if len(members) >= 2
    ]


class SeedGroups(Callback):
    """At the end of a multirun, group its runs by seed (see the module's docstring)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        logger = config.get("logger")
        if not logger or not logger.get("tracking_uri"):
            return
        sweep_id = Path(config.hydra.sweep.dir).name
        parents = make_groups(
            MlflowClient(logger.tracking_uri), sweep_id, config.get("optimized_metric")
        )
        for parent in parents:
            print(f"seed group: MLflow run {parent}")
        if parents:  # for the next step of a recipe: model_uri=runs:/<id> is the group's ensemble
            listing = Path(config.hydra.sweep.dir) / GROUPS_FILE
            write_text(listing, "".join(f"{parent}\n" for parent in parents))
