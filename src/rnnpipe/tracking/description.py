"""The run's description: MLflow shows the ``mlflow.note.content`` tag at the top of the run
page, so a reader sees what was trained, on what, and how it did without opening the params."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig

from rnnpipe.tasks.registry import task_spec

# model config key -> how the description names it (a task's model may lack some)
HYPERPARAMETERS = {
    "cell": "cell",
    "hidden_size": "hidden size",
    "num_layers": "layers",
    "nonlinearity": "nonlinearity",
    "init": "init",
}


def describe(cfg: DictConfig, data_files: Mapping[str, Path], metrics: Mapping[str, float]) -> str:
    """Markdown: the task and its data files, the key hyperparameters, the headline result."""
    model = cfg.model
    settings = [f"{label} {model[key]}" for key, label in HYPERPARAMETERS.items() if key in model]
    if model.get("optimizer") and "lr" in model.optimizer:
        optimizer = str(model.optimizer._target_).rsplit(".", 1)[-1]
        settings.append(f"{optimizer} lr {model.optimizer.lr}")
    if cfg.trainer.get("max_epochs"):
        settings.append(f"up to {cfg.trainer.max_epochs} epochs")
    headline = [
        f"{metric.name} {metrics[metric.name]:.4f}"
        for metric in task_spec(cfg.task_name).headline_metrics
        if metric.name in metrics
    ]
    files = ", ".join(Path(path).name for path in data_files.values()) or "generated data"
    return "\n".join(
        [
            f"- **{cfg.task_name}** on {files}",
            f"- {', '.join(settings)}",
            f"- result: {', '.join(headline) or 'no test metrics'}",
        ]
    )


def set_description(
    logger: MLFlowLogger,
    cfg: DictConfig,
    data_files: Mapping[str, Path],
    metrics: Mapping[str, float],
) -> None:
    """Write :func:`describe` as the run's description (``mlflow.note.content``)."""
    logger.experiment.set_tag(
        logger.run_id, "mlflow.note.content", describe(cfg, data_files, metrics)
    )
