"""Keep only the best run's checkpoints in a sweep: seeds and grids multiply artifacts.

    python scripts/prune_checkpoints.py --sweep-id 2026-12-01_10-00-00 --metric val/acc
    python scripts/prune_checkpoints.py --sweep-id ... --metric val/loss --lower-is-better --apply

Finds the finished runs of one Hydra multirun (tag ``rnnpipe.sweep_id``), keeps the
``checkpoints/`` artifacts of the best by ``--metric``, and lists (or, with ``--apply``,
deletes) the others'. Their metrics, params, reports and logged models stay: a registered
version keeps its own copy of its checkpoint inside its model. Without ``--apply`` nothing is
deleted. Runs already deleted in the UI are removed for good by ``make gc``.
"""

from __future__ import annotations

import argparse

from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from rnnpipe.config import PROJECT_ROOT
from rnnpipe.tracking.seed_groups import finished_runs_of_sweep


def prune(
    client: MlflowClient, sweep_id: str, metric: str, higher_is_better: bool, apply: bool
) -> list[str]:
    """The run ids whose checkpoints are (or would be) deleted; the best run's are kept."""
    runs = finished_runs_of_sweep(client, sweep_id)
    scored = [run for run in runs if metric in run.data.metrics]  # not seed-group parents
    if not scored:
        raise SystemExit(f"sweep {sweep_id}: expected finished runs with {metric}, found none")
    sign = 1 if higher_is_better else -1
    best = max(scored, key=lambda run: sign * run.data.metrics[metric])
    print(f"keep {best.info.run_name} ({metric} {best.data.metrics[metric]:.4f})")
    pruned = []
    for run in scored:
        if run.info.run_id == best.info.run_id:
            continue
        if apply:
            get_artifact_repository(run.info.artifact_uri).delete_artifacts("checkpoints")
        print(f"{'deleted' if apply else 'would delete'} checkpoints/ of {run.info.run_name}")
        pruned.append(run.info.run_id)
    return pruned


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep-id", required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--lower-is-better", action="store_true")
    parser.add_argument("--apply", action="store_true", help="delete (default: only list)")
    parser.add_argument("--tracking-uri", default=f"sqlite:///{PROJECT_ROOT}/mlflow.db")
    args = parser.parse_args(argv)
    client = MlflowClient(args.tracking_uri)
    prune(client, args.sweep_id, args.metric, not args.lower_is_better, args.apply)


if __name__ == "__main__":
    main()
