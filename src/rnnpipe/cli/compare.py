"""``rnnpipe-compare A B``: is B better than A on the same test items, and how sure is that?

    rnnpipe-compare runs:/<run id A> runs:/<run id B>
    rnnpipe-compare models:/rnnpipe-sentiment/1 models:/rnnpipe-sentiment@champion --resamples 5000

Each side is a training run (``runs:/<id>`` or its bare id) or a registered version; both must
have been tested on the same test set. Paired bootstrap resampling over test items
(:mod:`rnnpipe.comparison.bootstrap`) gives the difference of the headline metric B - A, its
95 % interval and a p-value. The comparison is an MLflow run of its own in the experiment
``comparisons`` (params: the sides; metrics: the difference, interval and p; artifact: a plot
of the resampled differences), and a table is printed.

Per-item statistics exist so far for sentiment (each review right or wrong, by its line); the
other tasks are refused in one line until they write theirs.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Run  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from rnnpipe.comparison.bootstrap import Comparison, accuracy, paired_bootstrap  # noqa: E402
from rnnpipe.config import PROJECT_ROOT  # noqa: E402
from rnnpipe.errors import RnnpipeError, reported_in_one_line  # noqa: E402
from rnnpipe.tracking.promotion import identity_of_test_set  # noqa: E402

MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(/(?P<version>\d+)|@(?P<alias>[\w-]+))")
# per task: its test predictions artifact, the item id column, its per-item statistics, metric
ITEMS = {
    "sentiment": ("predictions/test_predictions.tsv", "line", "test/acc", accuracy),
}
EXPERIMENT = "comparisons"


def resolve(client: MlflowClient, side: str) -> Run:
    """The training run behind ``runs:/<id>``, a bare run id, or ``models:/name/<n>|@alias``."""
    try:
        match = MODEL_URI.fullmatch(side)
        if match and match["version"]:
            return client.get_run(client.get_model_version(match["name"], match["version"]).run_id)
        if match:
            return client.get_run(
                client.get_model_version_by_alias(match["name"], match["alias"]).run_id
            )
        return client.get_run(side.removeprefix("runs:/").split("/")[0])
    except MlflowException as error:
        raise RnnpipeError(
            f"{side}: expected a run or a registered model version, got {error.message}"
        ) from None


def item_statistics(client: MlflowClient, run: Run, side: str) -> pd.Series:
    """Each test item's statistic, indexed by the item's id."""
    task = run.data.tags.get("rnnpipe.task", "")
    if task not in ITEMS:
        raise RnnpipeError(
            f"{side}: expected a run of a task with per-item test statistics {sorted(ITEMS)}, "
            f"got one of {task!r}"
        )
    artifact, item_id, _, _ = ITEMS[task]
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run.info.run_id, artifact, tmp)
        table = pd.read_csv(path, sep="\t")
    return (table["label"] == table["predicted"]).astype(float).set_axis(table[item_id])


def compare(
    client: MlflowClient, side_a: str, side_b: str, resamples: int, seed: int
) -> tuple[Comparison, str]:
    """The paired bootstrap of B against A; the comparison's MLflow run id."""
    run_a, run_b = resolve(client, side_a), resolve(client, side_b)
    if identity_of_test_set(run_a) != identity_of_test_set(run_b):
        raise RnnpipeError(
            f"{side_a} and {side_b}: expected two sides scored on the same test set, got two "
            "test sets (another test file, data file or split)"
        )
    items_a, items_b = (
        item_statistics(client, run_a, side_a),
        item_statistics(client, run_b, side_b),
    )
    if set(items_a.index) != set(items_b.index):
        raise RnnpipeError(f"{side_a} and {side_b}: expected the same test items, got others")
    items_b = items_b.loc[items_a.index]
    task = run_a.data.tags["rnnpipe.task"]
    _, _, metric_name, metric = ITEMS[task]
    result = paired_bootstrap(
        items_a.to_numpy()[:, None], items_b.to_numpy()[:, None], metric, resamples, seed
    )
    return result, log_comparison(client, side_a, side_b, metric_name, result, seed)


def log_comparison(
    client: MlflowClient, side_a: str, side_b: str, metric: str, result: Comparison, seed: int
) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    run = client.create_run(experiment_id, run_name=f"{side_b} vs {side_a}")
    run_id = run.info.run_id
    params = {"a": side_a, "b": side_b, "metric": metric, "resamples": result.resamples,
              "seed": seed, "method": "paired bootstrap over test items"}  # fmt: skip
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
        axes.set_xlabel(f"{metric}: B - A on a resample of the test items")
        axes.legend(fontsize="small")
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        client.log_artifact(run_id, str(path), "plots")
    client.set_terminated(run_id, "FINISHED")
    return run_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tracking-uri", default=f"sqlite:///{PROJECT_ROOT}/mlflow.db")
    args = parser.parse_args(argv)
    with reported_in_one_line():
        client = MlflowClient(args.tracking_uri)
        result, run_id = compare(client, args.a, args.b, args.resamples, args.seed)
        print("| A | B | A | B | B - A | 95 % CI | p |\n|---|---|---|---|---|---|---|")
        print(
            f"| {args.a} | {args.b} | {result.a:.4f} | {result.b:.4f} | {result.difference:+.4f} "
            f"| [{result.ci_low:+.4f}, {result.ci_high:+.4f}] | {result.p_value:.4f} |"
        )
        print(f"comparison: MLflow run {run_id} in experiment '{EXPERIMENT}'")


if __name__ == "__main__":
    main()
