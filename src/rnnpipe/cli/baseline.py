"""``rnnpipe-baseline``: a task's simplest honest model, on the same splits, scored the same way.

    rnnpipe-baseline experiment=sentiment_full                     # the fixed held-out split
    rnnpipe-baseline -m experiment=sentiment_full data.folds=5 'data.fold=range(5)'   # every fold
    rnnpipe-baseline experiment=ner_conll2003 data.test_path=null  # scored on valid.txt only

The config is rnnpipe-train's (``conf/baseline.yaml`` adds each task's baseline to it), so the
same ``experiment=`` and ``data.*`` overrides read the same files into the same splits. The
baseline is fitted on the train split and scored on val and test by the task's own scorer
(:mod:`rnnpipe.training.baseline`). Its MLflow run, in the task's experiment, carries what a
training run's does (the resolved config as params, the provenance tags, the data files, the
same metric names and per-item test table) and the tag ``rnnpipe.baseline`` (its method and
library): ``rnnpipe-compare <baseline run> <RNN run>`` pairs the two item by item,
``results_row=<label>`` makes it a row of the README's table, and a multirun over folds (or
seeds) becomes one group with its mean and std, as ``make cross-validate`` does for the RNN.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
from hydra.utils import instantiate
from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig, OmegaConf, open_dict

from rnnpipe.cli.train import check_class
from rnnpipe.config import CONFIG_DIR
from rnnpipe.config_rules import check_config
from rnnpipe.errors import RnnpipeError, reported_in_one_line
from rnnpipe.tasks.registry import task_spec
from rnnpipe.tracking import provenance
from rnnpipe.tracking.logger import failure_marks_run, make_logger, record
from rnnpipe.tracking.run_names import unique_run_name
from rnnpipe.training.module import save_table

BASELINE_TAG = "rnnpipe.baseline"


def baseline(cfg: DictConfig) -> dict[str, float]:
    """Fit the task's baseline on train, score it on val (and test); log it; return the metrics."""
    spec = task_spec(cfg.task_name)
    check_config(cfg)
    if cfg.get("baseline") is None:
        raise RnnpipeError(
            f"baselines.{spec.name}: expected a baseline of the {spec.name} task in "
            f"conf/baseline.yaml, got none (tasks with one: {', '.join(sorted(cfg.baselines))})"
        )
    with open_dict(cfg):  # the run's params: this task's baseline, not every task's
        cfg.baseline = OmegaConf.to_container(cfg.baseline, resolve=True)
        del cfg.baselines
    datamodule = instantiate(cfg.data)
    check_class("data", datamodule, (spec.datamodule_class,), spec)
    datamodule.setup("fit")
    datamodule.require_splits("train", "val")
    method = instantiate(cfg.baseline)

    started = time.perf_counter()
    scored = method.score(datamodule)
    metrics = scored.metrics | {"time/fit_seconds": time.perf_counter() - started}
    reports_dir = Path(cfg.paths.run_dir) / "reports"
    for relative, table in scored.reports.items():
        save_table(table, reports_dir / relative)

    name = None if cfg.get("run_name") else unique_run_name(f"{spec.name}-baseline")
    logger = make_logger(cfg.get("logger"), run_name=name)
    if isinstance(logger, MLFlowLogger):
        trainer = instantiate(cfg.trainer, logger=False)  # only for the hardware it names
        provenance.start_run(
            logger, cfg, trainer, datamodule.input_files(), {BASELINE_TAG: method.method}
        )
        with failure_marks_run(logger):
            logger.log_metrics(metrics, step=0)
            if reports_dir.is_dir():
                record(
                    logger,
                    "the reports",
                    lambda: logger.experiment.log_artifacts(logger.run_id, str(reports_dir)),
                )
        logger.finalize("success")

    print(f"\n{spec.name} baseline: {method.method}")
    for metric in sorted(scored.metrics):
        print(f"{metric:<16} {scored.metrics[metric]:.4f}")
    if isinstance(logger, MLFlowLogger):
        print(f"MLflow run {logger.run_id} in experiment '{spec.name}' ({cfg.logger.tracking_uri})")
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="baseline")
def main(cfg: DictConfig) -> float | None:
    """Console entry; returns ``optimized_metric``, as ``rnnpipe-train`` does."""
    with reported_in_one_line():
        metrics = baseline(cfg)
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None


if __name__ == "__main__":
    main()
