"""``rnnpipe-train``: compose the config, train, test, and record it all in MLflow.

rnnpipe-train                                   # the default experiment (sentiment sample)
rnnpipe-train experiment=ner trainer=gpu
rnnpipe-train -m model.hidden_size=64,128       # a sweep: one MLflow run per job
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig, OmegaConf, open_dict

from rnnpipe import tracking
from rnnpipe.config import CONFIG_DIR
from rnnpipe.errors import RnnpipeError, reported_in_one_line


def train(cfg: DictConfig, extra_callbacks: Sequence[L.Callback] = ()) -> dict[str, float]:
    """Fit on the train split, select on val, test the best checkpoint; return all metrics.

    ``extra_callbacks`` join the configured ones (a tuner adds its pruning callback this way).
    """
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    checkpoint = resolve_checkpoint(cfg)
    if checkpoint and Path(checkpoint).parent.name == "checkpoints":
        # a resumed run carries on in its own directory, so the checkpoint callbacks find their
        # saved state (the best score so far) where they left it
        with open_dict(cfg):
            cfg.paths.run_dir = str(Path(checkpoint).parent.parent)

    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    model = instantiate(
        cfg.model,
        **datamodule.model_kwargs(),
        preprocessing=datamodule.state_dict(),
        data_config=OmegaConf.to_container(cfg.data, resolve=True),
    )
    resumed_run_id = tracking.run_id_in_checkpoint(checkpoint) if checkpoint else None
    logger = tracking.make_logger(cfg.get("logger"), run_id=resumed_run_id)
    callbacks = [instantiate(c) for c in cfg.get("callbacks", {}).values() if c]
    callbacks += list(extra_callbacks)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger or False)

    tracked = isinstance(logger, MLFlowLogger) and trainer.is_global_zero
    if tracked and resumed_run_id:
        tracking.continue_run(logger, checkpoint)
    elif tracked:
        tracking.start_run(logger, cfg, trainer, datamodule.input_files())
    with tracking.failure_marks_run(logger):
        started = time.perf_counter()
        trainer.fit(model, datamodule=datamodule, ckpt_path=checkpoint)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        metrics["time/fit_seconds"] = time.perf_counter() - started
        best_checkpoint = (
            trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        )
        if best_checkpoint and trainer.checkpoint_callback.best_model_score is not None:
            metrics[trainer.checkpoint_callback.monitor] = float(
                trainer.checkpoint_callback.best_model_score
            )
        if cfg.get("test"):
            [test_metrics] = trainer.test(
                model, datamodule=datamodule, ckpt_path=best_checkpoint or None
            )
            metrics.update(test_metrics)
        reports_dir = Path(cfg.paths.run_dir) / "reports"
        if cfg.get("test") and trainer.is_global_zero:
            model.write_test_reports(reports_dir)
        if tracked:
            logger.log_metrics({"time/fit_seconds": metrics["time/fit_seconds"]})
            tracking.record(
                logger,
                "artifacts (checkpoint, tokenizer, reports)",
                lambda: tracking.log_outputs(logger, model, best_checkpoint, reports_dir),
            )
            if best_checkpoint and cfg.get("log_model"):
                register = cfg.get("register_model")
                tracking.record(
                    logger,
                    "the pyfunc model",
                    lambda: tracking.log_model(logger, model, best_checkpoint, register=register),
                )
    if trainer.is_global_zero:
        print_summary(cfg, metrics, logger if tracked else None, best_checkpoint)
    return metrics


def resolve_checkpoint(cfg: DictConfig) -> str | None:
    """``ckpt_path``: a file, or ``last`` for the newest ``last.ckpt`` of this task's runs."""
    requested = cfg.get("ckpt_path")
    if requested is None:
        return None
    if requested == "last":
        runs = Path(cfg.paths.output_dir) / cfg.task_name
        candidates = sorted(runs.glob("**/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            raise RnnpipeError(f"ckpt_path=last: expected a last.ckpt under {runs}, found none")
        print(f"resuming from {candidates[-1]}")
        return str(candidates[-1])
    if not Path(requested).is_file():
        raise RnnpipeError(f"ckpt_path={requested}: expected a checkpoint file, got no such file")
    return str(requested)


def print_summary(
    cfg: DictConfig, metrics: dict[str, float], logger: MLFlowLogger | None, checkpoint: str
) -> None:
    print()
    for name in sorted(metrics):
        if name.startswith("test/"):
            print(f"{name:<16} {metrics[name]:.4f}")
    if logger is not None:
        where = f"experiment '{cfg.task_name}' ({cfg.logger.tracking_uri})"
        print(f"MLflow run {logger.run_id} in {where}")
        print("see it with: make ui")
        unrecorded = getattr(logger, "unrecorded", [])
        if unrecorded:
            print(f"warning: {len(unrecorded)} items not recorded in MLflow, from: {unrecorded[0]}")
    if checkpoint:
        print(f"best checkpoint: {checkpoint}")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Console entry; returns ``optimized_metric`` so any Hydra sweeper can optimise it."""
    with reported_in_one_line():
        metrics = train(cfg)
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None


if __name__ == "__main__":
    main()
