"""``rnnpipe-evaluate``: score a trained model on any file in its task's format, log it to MLflow.

    rnnpipe-evaluate model_uri=models:/rnnpipe-sentiment/1 data_path=my_reviews.tsv
    rnnpipe-evaluate model_uri=outputs/sentiment/runs/<time>/checkpoints/last.ckpt data_path=...
    rnnpipe-evaluate 'model_uri=[seed1.ckpt,seed2.ckpt]' data_path=...     # an ensemble
    rnnpipe-evaluate 'model_uri=[...]' data_path=... register_model=true  # ... as a version
    rnnpipe-evaluate model_uri=runs:/<a seed group's parent run>  # its seeds' ensemble, own test
    rnnpipe-evaluate -m model_uri=runs:/<group of folds x seeds> 'fold=range(5)'  # CV of ensembles

The model carries its fitted tokenizers and the config of the data it was trained on, so the
same reader and tokenization apply to the new file; nothing is refitted. Without ``data_path``
the model is scored on its own test split, as that config draws it (the held-out split, or the
fold); the run then logs that config as ``data.*`` params, so it has the test-set identity of
the training runs and ``rnnpipe-compare`` pairs it with them.
"""

from __future__ import annotations

import inspect
import shutil
import tempfile
from pathlib import Path
from typing import Any

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig, OmegaConf

from rnnpipe.cli.train import register_version, score_with_classifier
from rnnpipe.config import CONFIG_DIR
from rnnpipe.config_rules import check_config
from rnnpipe.errors import RnnpipeError, reported_in_one_line, require_file
from rnnpipe.tasks.registry import spec_of
from rnnpipe.tasks.spec import TaskSpec
from rnnpipe.tracking import artifacts, provenance
from rnnpipe.tracking.heartbeat import fail_stale_runs
from rnnpipe.tracking.loading import model_of, model_references, resolve_checkpoints
from rnnpipe.tracking.logger import failure_marks_run, make_logger, record
from rnnpipe.training.module import TaskModule


def evaluate(cfg: DictConfig) -> dict[str, float]:
    check_config(cfg)
    split = scored_split(cfg)  # refused before any model is downloaded
    with tempfile.TemporaryDirectory() as tmp:
        checkpoints = resolve_checkpoints(
            model_references(cfg.model_uri),
            Path(tmp),
            cfg.logger.get("tracking_uri"),
            fold=cfg.get("fold"),
        )
        return evaluate_checkpoints(cfg, checkpoints, split)


def evaluate_checkpoints(
    cfg: DictConfig, checkpoints: list[tuple[str, Path]], split: str
) -> dict[str, float]:
    """Score the model of the checkpoints (several: their ensemble) on ``cfg.data_path``, or on
    its own ``split`` (test or val)."""
    module = model_of(checkpoints)
    spec = spec_of(module)
    arguments = saved_data_arguments(spec, module.data_config)
    if cfg.data_path is None:
        tested_on = {"rnnpipe.evaluated_split": split}
        data_params = provenance.flatten({"data": arguments})  # named as a training run's
    else:
        data_path = require_file(cfg.data_path, f"a {spec.name} data file")
        arguments |= {"test_path": str(data_path)}
        tested_on = {"rnnpipe.evaluated_data": str(data_path.resolve())}
        data_params = {}
    datamodule = spec.datamodule_class(**arguments)
    datamodule.load_state_dict(module.preprocessing.state)
    datamodule.setup("test" if split == "test" else "validate")
    datamodule.require_splits(split)

    logger = make_logger(cfg.get("logger"), experiment_name=spec.name)
    trainer = instantiate(cfg.trainer, logger=logger or False)
    tracked = isinstance(logger, MLFlowLogger)
    if tracked:
        provenance.start_run(
            logger,
            cfg,
            trainer,
            datamodule.input_files(),
            # the model's task, as its training runs (the Hydra task_name is "evaluate")
            extra_tags={"rnnpipe.task": spec.name, "rnnpipe.evaluated_model": str(cfg.model_uri)}
            | tested_on,
        )
        logger.log_hyperparams(data_params)
        logger.log_metrics(datamodule.truncation_metrics())
        record(logger, "the stale-run sweep", lambda: fail_stale_runs(logger))
    reports_dir = Path(cfg.paths.run_dir) / "reports"
    with failure_marks_run(logger):
        if split == "val":  # selection: metrics only, no test reports
            [metrics] = trainer.validate(module, datamodule=datamodule)
        else:
            [metrics] = trainer.test(module, datamodule=datamodule)
            if cfg.get("scorer_uri"):
                metrics.update(score_with_classifier(cfg, module, logger if tracked else None))
            module.write_test_reports(reports_dir)
            if tracked:
                artifacts.log_outputs(logger, module, None, reports_dir)
                if cfg.log_model or cfg.register_model:
                    log_evaluated_model(cfg, logger, spec, module, checkpoints)

    print()
    fold = f" (fold {arguments['fold']})" if arguments.get("fold") is not None else ""
    tested = cfg.data_path or f"its own {'validation' if split == 'val' else 'test'} split{fold}"
    print(f"{spec.name} model {cfg.model_uri} on {tested}:")
    for name in sorted(metrics):
        print(f"  {name:<16} {metrics[name]:.4f}")
    if split == "test":
        print(f"reports: {reports_dir}")
    if tracked:
        print(f"MLflow run {logger.run_id} in experiment '{spec.name}'")
    return metrics


def scored_split(cfg: DictConfig) -> str:
    """``split``: test, or val (a model's own validation split, to choose between models
    without reading their test split); a data file is always scored as a test split."""
    split = cfg.get("split", "test")
    if split not in ("test", "val"):
        raise RnnpipeError(f"split: expected test or val, got {split!r}")
    if split == "val" and cfg.data_path is not None:
        raise RnnpipeError(
            f"split=val: expected no data_path (a file is scored as a test split), got "
            f"{cfg.data_path}"
        )
    return split


def log_evaluated_model(
    cfg: DictConfig,
    logger: MLFlowLogger,
    spec: TaskSpec,
    module: TaskModule,
    checkpoints: list[tuple[str, Path]],
) -> None:
    """The evaluated model as this run's pyfunc model: its checkpoints, in order, as
    ``member00.ckpt``, ``member01.ckpt``, ... (the first member decodes and reports; MLflow
    keeps an artifact by its file name, so the members' own names could clash); with
    ``register_model``, a new version of ``rnnpipe-<task>``."""
    with tempfile.TemporaryDirectory() as tmp:
        named = {
            f"member{index:02d}": shutil.copyfile(path, Path(tmp) / f"member{index:02d}.ckpt")
            for index, (_, path) in enumerate(checkpoints)
        }
        info = artifacts.log_model(logger, spec, module, named, register=cfg.register_model)
    print(f"model: runs:/{logger.run_id}/model ({len(named)} checkpoint(s))")
    if cfg.register_model:
        register_version(logger, spec, str(info.registered_model_version), cfg.get("promote"))


def saved_data_arguments(spec: TaskSpec, data_config: dict[str, Any]) -> dict[str, Any]:
    """The DataModule arguments a model was trained with, for the task's own DataModule
    (whichever class path an older saved config names). An argument the saved config lacks
    (it came after the model was trained) takes today's value from ``experiment=<task>``."""
    arguments = {k: v for k, v in data_config.items() if not k.startswith("_")}
    wanted = inspect.signature(spec.datamodule_class).parameters
    if set(wanted) <= set(arguments):
        return arguments
    overrides = [f"experiment={spec.name}"]
    if GlobalHydra.instance().is_initialized():
        today = compose("train", overrides=overrides)
    else:
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            today = compose("train", overrides=overrides)
    defaults = OmegaConf.to_container(today.data, resolve=True)
    return {k: defaults[k] for k in wanted if k not in arguments and k in defaults} | arguments


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with reported_in_one_line():
        evaluate(cfg)


if __name__ == "__main__":
    main()
