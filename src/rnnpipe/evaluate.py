"""``rnnpipe-evaluate``: score a trained model on any file in its task's format, log it to MLflow.

    rnnpipe-evaluate model_uri=models:/rnnpipe-sentiment/1 data_path=my_reviews.tsv
    rnnpipe-evaluate model_uri=outputs/sentiment/runs/<time>/checkpoints/last.ckpt data_path=...

The model carries its fitted tokenizers and the config of the data it was trained on, so the
same reader and tokenization apply to the new file; nothing is refitted.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.utils import instantiate
from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig

from rnnpipe import tracking
from rnnpipe.config import CONFIG_DIR
from rnnpipe.errors import RnnpipeError, reported_in_one_line


def evaluate(cfg: DictConfig) -> dict[str, float]:
    module = tracking.load_task_module(
        str(cfg.model_uri), tracking_uri=cfg.logger.get("tracking_uri")
    )
    data_path = Path(cfg.data_path)
    if not data_path.is_file():
        raise RnnpipeError(
            f"{data_path}: expected a {module.task_name} data file, got no such file"
        )
    datamodule = instantiate(module.data_config, test_path=str(data_path))
    datamodule.load_state_dict(module.preprocessing)
    datamodule.setup("test")

    logger = tracking.make_logger(cfg.get("logger"), experiment_name=module.task_name)
    trainer = instantiate(cfg.trainer, logger=logger or False)
    tracked = isinstance(logger, MLFlowLogger)
    if tracked:
        tracking.start_run(
            logger,
            cfg,
            trainer,
            datamodule.input_files(),
            extra_tags={
                "rnnpipe.evaluated_model": str(cfg.model_uri),
                "rnnpipe.evaluated_data": str(data_path.resolve()),
            },
        )
    with tracking.failure_marks_run(logger):
        [metrics] = trainer.test(module, datamodule=datamodule)
        reports_dir = Path(cfg.paths.run_dir) / "reports"
        module.write_test_reports(reports_dir)
        if tracked:
            tracking.log_outputs(logger, module, None, reports_dir)

    print()
    print(f"{module.task_name} model {cfg.model_uri} on {data_path}:")
    for name in sorted(metrics):
        print(f"  {name:<16} {metrics[name]:.4f}")
    print(f"reports: {reports_dir}")
    if tracked:
        print(f"MLflow run {logger.run_id} in experiment '{module.task_name}'")
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with reported_in_one_line():
        evaluate(cfg)


if __name__ == "__main__":
    main()
