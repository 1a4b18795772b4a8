"""``rnnpipe-compare A B``: is B better than A on the same test items, and how sure is that?

    rnnpipe-compare runs:/<run id A> runs:/<run id B>
    rnnpipe-compare models:/rnnpipe-ner/1 models:/rnnpipe-ner@champion --resamples 5000
    rnnpipe-compare <translation run>#greedy <translation run>     # beam search against greedy

Each side is a training run (``runs:/<id>`` or its bare id), a registered version, or a group
(the parent run of a seed or fold group; with ``--groups``, any run or version in one stands
for its group), of sentiment, NER, translation or generation; both must have been tested on the
same test set and scored alike. Every tested run of those tasks logs its test items in one form
(:mod:`rnnpipe.comparison.items`): per item, the sufficient statistics of the task's headline
metric (accuracy, entity F1, BLEU, bits per character). A group's statistic of an item is the
mean over its runs that tested the item, so group against group is still paired item by item.

Paired bootstrap resampling over the items (:mod:`rnnpipe.comparison.bootstrap`) rescores each
resample corpus-level and gives the difference B - A, its 95 % interval and a p-value; for BLEU
of two runs, the p-value is sacreBLEU's own paired bootstrap (:mod:`rnnpipe.comparison.bleu`).
The table says which side is better, whichever way the metric points (fewer bits per character
are better). The comparison is an MLflow run of its own in the experiment ``comparisons``
(params: the sides; metrics: the difference, interval and p; artifact: a plot of the resampled
differences).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Run  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from rnnpipe.comparison.bootstrap import Comparison, paired_bootstrap  # noqa: E402
from rnnpipe.comparison.items import ITEMS, ItemForm, read_items  # noqa: E402
from rnnpipe.config import PROJECT_ROOT  # noqa: E402
from rnnpipe.errors import RnnpipeError, reported_in_one_line  # noqa: E402
from rnnpipe.tasks.registry import task_spec  # noqa: E402
from rnnpipe.tasks.spec import Metric  # noqa: E402
from rnnpipe.tracking.model_uri import parse_model_uri  # noqa: E402
from rnnpipe.tracking.promotion import identity_of_test_set  # noqa: E402
from rnnpipe.tracking.seed_groups import group_members, is_group  # noqa: E402
from rnnpipe.training.plots import save_figure  # noqa: E402

EXPERIMENT = "comparisons"


def resolve(client: MlflowClient, side: str) -> Run:
    """The training run behind ``runs:/<id>``, a bare run id, or ``models:/name/<n>|@alias``."""
    try:
        uri = parse_model_uri(side)
        if uri and uri.version:
            return client.get_run(client.get_model_version(uri.name, uri.version).run_id)
        if uri:
            return client.get_run(client.get_model_version_by_alias(uri.name, uri.alias).run_id)
        return client.get_run(side.removeprefix("runs:/").split("/")[0])
    except MlflowException as error:
        raise RnnpipeError(
            f"{side}: expected a run or a registered model version, got {error.message}"
        ) from None


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a run, or a group (its parent run) and the runs it holds."""

    name: str  # as the command line gave it
    run: Run
    members: tuple[Run, ...]
    decoding: str = ""  # <side>#<decoding>: another decoding its test wrote (translation's greedy)


def side_of(client: MlflowClient, name: str, groups: bool) -> Side:
    """The run ``name`` resolves to; a group's parent stands for its member runs, and with
    ``groups`` so does a run (or a version's run) that is a member of a group; ``#<decoding>``
    after it takes that decoding's outputs."""
    base, _, decoding = name.partition("#")
    run = resolve(client, base)
    parent_id = run.data.tags.get("mlflow.parentRunId")
    if groups and parent_id and not is_group(run):
        run = client.get_run(parent_id)
    if not is_group(run):
        return Side(name, run, (run,), decoding)
    members = tuple(group_members(client, run))
    if not members:
        raise RnnpipeError(f"{name}: expected a group with its runs nested under it, got none")
    return Side(name, run, members, decoding)


def identity_of_items(side: Side) -> str:
    """The identity of the items a side was tested on: its run's test set; a group's members'
    one test set, or, for a group of folds, the union of theirs."""
    identities = sorted({identity_of_test_set(run) for run in side.members})
    if len(identities) == 1:
        return identities[0]
    return hashlib.sha256("\n".join(identities).encode()).hexdigest()


def item_table(client: MlflowClient, run: Run, side: Side, form: ItemForm) -> pd.DataFrame:
    """The run's per-item test table, one row per item id, with the side's decoding (if any)
    as the scored column."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run.info.run_id, form.artifact, tmp)
        except (MlflowException, OSError):
            raise RnnpipeError(
                f"{side.name}: expected a tested run with the artifact {form.artifact}, got a run "
                f"{run.info.run_id} without it (trained with test=false, or before it was written)"
            ) from None
        table = read_items(path)
    if table[form.item_id].duplicated().any():
        raise RnnpipeError(f"{side.name}: {form.artifact}: expected one row per {form.item_id}")
    if side.decoding:
        if side.decoding not in table:
            raise RnnpipeError(
                f"{side.name}: {form.artifact}: expected a {side.decoding!r} column (a test "
                f"that decoded that way too), got {', '.join(table.columns)}"
            )
        table[form.scored_column] = table[side.decoding]
    return table.set_index(form.item_id, drop=False)


def item_statistics(tables: list[pd.DataFrame], side: Side, form: ItemForm) -> pd.DataFrame:
    """Each item's statistics, indexed by its id: a run's own; a group's, the mean over the
    member runs that tested the item (every seed of a seed group; the one fold of a fold group
    that held the item out), so that two groups are still paired item by item."""
    per_run = [
        pd.DataFrame(form.statistics(table, run), index=table.index)
        for table, run in zip(tables, side.members, strict=True)
    ]
    return pd.concat(per_run).groupby(level=0, sort=False).mean()


def task_of(run: Run, side: str) -> str:
    task = run.data.tags.get("rnnpipe.task", "")
    if task not in ITEMS:
        raise RnnpipeError(
            f"{side}: expected a run of a task with per-item test statistics {sorted(ITEMS)}, "
            f"got one of {task!r}"
        )
    return task


def headline(task: str, metric: str) -> Metric:
    """The task's headline metric ``metric``: which way is better."""
    return next(m for m in task_spec(task).headline_metrics if m.name == metric)


def compare(
    client: MlflowClient, side_a: str, side_b: str, resamples: int, seed: int, groups: bool
) -> tuple[Comparison, Metric, str]:
    """The paired bootstrap of B against A, the metric, and the comparison's MLflow run id."""
    a, b = side_of(client, side_a, groups), side_of(client, side_b, groups)
    task, task_b = task_of(a.run, side_a), task_of(b.run, side_b)
    if task != task_b:
        raise RnnpipeError(f"{side_a} and {side_b}: expected two runs of one task, got {task} "
                           f"and {task_b}")  # fmt: skip
    if identity_of_items(a) != identity_of_items(b):
        raise RnnpipeError(
            f"{side_a} and {side_b}: expected two sides scored on the same test set, got two "
            "test sets (another test file, data file, split or folds)"
        )
    form = ITEMS[task]
    for side in (a, b):
        if side.decoding and side.decoding not in form.decodings:
            raise RnnpipeError(
                f"{side.name}: expected a decoding of {' or '.join(form.decodings) or 'none'} "
                f"after '#', got {side.decoding!r}"
            )
    for tag in form.scored_alike:
        values = sorted({str(run.data.tags.get(tag)) for run in (*a.members, *b.members)})
        if len(values) > 1:
            raise RnnpipeError(f"{side_a} and {side_b}: expected two sides scored alike, got "
                               f"another {tag} ({' and '.join(values)})")  # fmt: skip
    tables_a, tables_b = (
        [item_table(client, run, side, form) for run in side.members] for side in (a, b)
    )
    items_a, items_b = item_statistics(tables_a, a, form), item_statistics(tables_b, b, form)
    if set(items_a.index) != set(items_b.index):
        raise RnnpipeError(f"{side_a} and {side_b}: expected the same test items, got others")
    items_b = items_b.loc[items_a.index]
    result = paired_bootstrap(items_a.to_numpy(), items_b.to_numpy(), form.score, resamples, seed)
    method = "paired bootstrap over test items"
    if is_group(a.run) or is_group(b.run):
        method += " (a group's items: the mean of its runs)"
    elif form.paired_p is not None:  # the field's own test, of two runs' outputs
        [table_a], [table_b] = tables_a, tables_b
        p_value = form.paired_p(table_a, table_b.loc[table_a.index], a.run, resamples, seed)
        result = replace(result, p_value=p_value)
        method += f"; p: {form.paired_p.__doc__.splitlines()[0]}"
    metric = headline(task, form.metric)
    return result, metric, log_comparison(client, a, b, metric, result, seed, method)


def better_side(result: Comparison, metric: Metric) -> str:
    """Which side scored better, the way the metric points."""
    if result.difference == 0:
        return "neither"
    return "B" if (result.difference > 0) == metric.higher_is_better else "A"


def log_comparison(
    client: MlflowClient,
    a: Side,
    b: Side,
    metric: Metric,
    result: Comparison,
    seed: int,
    method: str,
) -> str:
    """The comparison as a run of its own; ``a_run`` and ``b_run`` name the runs (a group's
    parent) the sides resolved to, by which a results row cites it (``make results``)."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    run = client.create_run(experiment_id, run_name=f"{b.name} vs {a.name}")
    run_id = run.info.run_id
    params = {"a": a.name, "b": b.name, "a_run": a.run.info.run_id, "b_run": b.run.info.run_id,
              "metric": metric.name, "resamples": result.resamples,
              "higher_is_better": metric.higher_is_better, "better": better_side(result, metric),
              "seed": seed, "method": method}  # fmt: skip
    for key, value in params.items():
        client.log_param(run_id, key, value)
    for key in ("a", "b", "difference", "ci_low", "ci_high", "p_value"):
        client.log_metric(run_id, key, getattr(result, key))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resampled_differences.png"
        figure, axes = plt.subplots(figsize=(6, 3.5))
        axes.hist(result.resampled_differences, bins=40, color="grey")
        axes.axvline(result.difference, color="black", label=f"observed {result.difference:+.4f}")
        axes.axvline(0, color="red", linestyle="--", label="no difference")
        better = "higher" if metric.higher_is_better else "lower"
        axes.set_xlabel(f"{metric.name} ({better} is better): B - A on a resample of the items")
        axes.legend(fontsize="small")
        figure.tight_layout()
        save_figure(figure, path)
        client.log_artifact(run_id, str(path), "plots")
    client.set_terminated(run_id, "FINISHED")
    return run_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--groups", action="store_true", help="a run in a seed group stands for its whole group"
    )
    parser.add_argument("--tracking-uri", default=f"sqlite:///{PROJECT_ROOT}/mlflow.db")
    args = parser.parse_args(argv)
    # the output is the table, or one line that says why not: no artifact download bars
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    with reported_in_one_line():
        client = MlflowClient(args.tracking_uri)
        result, metric, run_id = compare(
            client, args.a, args.b, args.resamples, args.seed, args.groups
        )
        better = "higher" if metric.higher_is_better else "lower"
        print(f"{metric.name} ({better} is better), paired bootstrap over the test items")
        print("| A | B | A | B | B - A | 95 % CI | p | better |\n|---|---|---|---|---|---|---|---|")
        print(
            f"| {args.a} | {args.b} | {result.a:.4f} | {result.b:.4f} | {result.difference:+.4f} "
            f"| [{result.ci_low:+.4f}, {result.ci_high:+.4f}] | {result.p_value:.4f} "
            f"| {better_side(result, metric)} |"
        )
        print(f"comparison: MLflow run {run_id} in experiment '{EXPERIMENT}'")


if __name__ == "__main__":
    main()
