"""``rnnpipe-train``: compose the config, train, test, and record it all in MLflow.

rnnpipe-train                                   # the default experiment (sentiment sample)
rnnpipe-train experiment=ner trainer=gpu
rnnpipe-train -m model.hidden_size=64,128       # a sweep: one MLflow run per job
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig, OmegaConf, open_dict

from rnnpipe.config import CONFIG_DIR
from rnnpipe.config_rules import check_config
from rnnpipe.errors import RnnpipeError, reported_in_one_line
from rnnpipe.tasks.registry import task_spec
from rnnpipe.tasks.spec import TaskSpec
from rnnpipe.tracking import artifacts, description, promotion, provenance, resume
from rnnpipe.tracking.classifier_agreement import score_generated_reviews
from rnnpipe.tracking.heartbeat import fail_stale_runs
from rnnpipe.tracking.loading import load_models
from rnnpipe.tracking.logger import check_reachable, failure_marks_run, make_logger, record
from rnnpipe.training.init_from import Transfer, build_module, init_from
from rnnpipe.training.module import TaskModule


def train(cfg: DictConfig, extra_callbacks: Sequence[L.Callback] = ()) -> dict[str, float]:
    """Fit on the train split, select on val, test the best checkpoint; return all metrics.

    ``extra_callbacks`` join the configured ones (a tuner adds its pruning callback this way).
    """
    spec = task_spec(cfg.task_name)
    check_config(cfg)
    if tracking_uri(cfg):
        check_reachable(tracking_uri(cfg))  # a new store is created once, a bad one named
    saved = resolve_checkpoint(cfg)
    previous_status = None
    if saved:
        cfg = resume.restore_config(cfg, saved)
        check_config(cfg)  # what the checkpoint brought back is checked as a command line is
        previous_status = resume.check_may_continue(saved, tracking_uri(cfg), cfg.resume.extend)
    if saved and saved.checkpoint.parent.name == "checkpoints":
        # a resumed run carries on in its own directory, so the checkpoint callbacks find their
        # saved state (the best score so far) where they left it
        with open_dict(cfg):
            cfg.paths.run_dir = str(saved.checkpoint.parent.parent)
    with resume.run_directory_claimed(Path(cfg.paths.run_dir)):
        return fit_and_record(cfg, spec, saved, previous_status, extra_callbacks)


def fit_and_record(
    cfg: DictConfig,
    spec: TaskSpec,
    saved: resume.SavedRun | None,
    previous_status: str | None,
    extra_callbacks: Sequence[L.Callback],
) -> dict[str, float]:
    """Build, fit, test and record the run, in the directory this process holds."""
    checkpoint = str(saved.checkpoint) if saved else None
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(cfg.data)
    check_class("data", datamodule, spec.training_datamodules, spec)
    datamodule.setup("fit")
    datamodule.require_splits("train", "val", *(["test"] if cfg.get("test") else []))
    model = build_module(cfg, datamodule)
    check_class("model", model, (spec.module_class,), spec)
    # a resume carries on from its own weights: the transfer was applied when the run began
    transfer = start_from(cfg, model) if cfg.model.get("init_from") and not saved else None
    model.run_config = OmegaConf.to_container(cfg, resolve=True)
    resumed_run_id = saved.run_id if saved else None
    logger = make_logger(cfg.get("logger"), run_id=resumed_run_id)
    callbacks = [instantiate(c) for c in cfg.get("callbacks", {}).values() if c]
    callbacks += list(extra_callbacks)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger or False)

    # a fast_dev_run is Lightning's smoke check: it swaps the loggers out, and records nothing
    tracked = isinstance(logger, MLFlowLogger) and trainer.is_global_zero
    tracked = tracked and not trainer.fast_dev_run
    if tracked and resumed_run_id:
        provenance.continue_run(logger, checkpoint)
    elif tracked:
        provenance.start_run(logger, cfg, trainer, datamodule.input_files())
        if transfer is not None:
            record(logger, "the init_from report", lambda: logger.experiment.log_dict(
                logger.run_id, transfer.as_dict(), "config/init_from.json"))  # fmt: skip
    if tracked:
        logger.log_metrics(datamodule.data_metrics())  # truncation, vectors' coverage
        record(logger, "the stale-run sweep", lambda: fail_stale_runs(logger))
    with failure_marks_run(logger, finished_before=previous_status == "FINISHED"):
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
            if cfg.get("scorer_uri") and trainer.is_global_zero:
                metrics.update(score_with_classifier(cfg, model, logger if tracked else None))
        reports_dir = Path(cfg.paths.run_dir) / "reports"
        if cfg.get("test") and trainer.is_global_zero:
            model.write_test_reports(reports_dir)
        if tracked:
            logger.log_metrics({"time/fit_seconds": metrics["time/fit_seconds"]})
            record(
                logger,
                "artifacts (checkpoint, tokenizer, reports)",
                lambda: artifacts.log_outputs(logger, model, best_checkpoint, reports_dir),
            )
            record(
                logger,
                "the run description",
                lambda: description.set_description(logger, cfg, datamodule.input_files(), metrics),
            )
            if best_checkpoint and cfg.get("log_model") and spec.served:
                # a run registers one version: a resume after a kill that followed the
                # registration tags and promotes that version instead of adding a second
                register = cfg.get("register_model")
                registered = register and record(
                    logger, "the run's model version", lambda: promotion.version_of_run(
                        logger.experiment, spec, logger.run_id))  # fmt: skip
                info = record(
                    logger,
                    "the pyfunc model",
                    lambda: artifacts.log_model(
                        logger, spec, model, {"checkpoint": best_checkpoint},
                        register=register and not registered,
                    ),
                )  # fmt: skip
                if register and info is not None:
                    version = registered or str(info.registered_model_version)
                    record(logger, "the model version", lambda: register_version(
                        logger, spec, version, cfg.get("promote")))  # fmt: skip
    if trainer.is_global_zero:
        print_summary(cfg, metrics, logger if tracked else None, best_checkpoint)
    return metrics


def start_from(cfg: DictConfig, model: TaskModule) -> Transfer:
    """``model.init_from``: copy that model's matching weights into ``model``
    (:mod:`rnnpipe.training.init_from`) and print which went where."""
    reference = str(cfg.model.init_from)
    try:
        source = load_models(reference, tracking_uri(cfg))
    except RnnpipeError as error:
        raise RnnpipeError(f"model.init_from: {error}") from None
    prefixes = OmegaConf.to_container(cfg.model, resolve=True).get("init_from_prefixes") or {}
    transfer = init_from(model, source, reference, prefixes)
    print("\n".join(transfer.lines()))
    return transfer


def register_version(
    logger: MLFlowLogger, spec: TaskSpec, version: str, promote: str | None
) -> None:
    """Tag and describe the new version; ``promote=auto``: give it its alias by the rule of
    :mod:`rnnpipe.tracking.promotion`, and say which and why. A promotion that cannot be made
    (no headline metric, an alias another process moved meanwhile) is a warning: the run and
    its version are recorded, and ``make promote`` can try again."""
    client = logger.experiment
    name = spec.registered_model_name
    promotion.describe_version(client, name, version, client.get_run(logger.run_id))
    if promote == "auto":
        try:
            print(f"models:/{name}/{version} -> {promotion.promote(client, spec, version)}")
        except RnnpipeError as error:
            print(f"warning: models:/{name}/{version} not promoted: {error}", file=sys.stderr)


def check_class(group: str, built: object, expected: tuple[type, ...], spec: TaskSpec) -> None:
    """The ``data``/``model`` config must build one of the task's own classes."""
    if not isinstance(built, expected):
        names = " or ".join(c.__qualname__ for c in expected)
        raise RnnpipeError(
            f"{group}._target_: expected the {spec.name} task's {names} "
            f"(task_name={spec.name}), got a {type(built).__qualname__}"
        )


def score_with_classifier(
    cfg: DictConfig, generator: L.LightningModule, logger: MLFlowLogger | None
) -> dict[str, float]:
    """``scorer_uri``: a sentiment model reads the generated and the real test reviews
    (:mod:`rnnpipe.tracking.classifier_agreement`); the metrics join the run's."""
    scores = score_generated_reviews(generator, cfg.scorer_uri, cfg.get("scorer_tracking_uri"))
    if logger is not None:
        logger.log_metrics(scores, step=generator.global_step)
        record(
            logger,
            "the scorer tag",
            lambda: logger.experiment.set_tag(
                logger.run_id, "rnnpipe.generation.scorer", str(cfg.scorer_uri)
            ),
        )
    return scores


def tracking_uri(cfg: DictConfig) -> str | None:
    """Where this run's MLflow store is (None without an MLflow logger)."""
    return cfg.logger.get("tracking_uri") if cfg.get("logger") else None


def resolve_checkpoint(cfg: DictConfig) -> resume.SavedRun | None:
    """``ckpt_path``: a file, or ``last`` for the newest unfinished run of this task on this
    data (:mod:`rnnpipe.tracking.resume`)."""
    requested = cfg.get("ckpt_path")
    if requested is None:
        return None
    if requested == "last":
        runs = Path(cfg.paths.output_dir) / cfg.task_name
        saved = resume.newest_unfinished(cfg, runs, tracking_uri(cfg), cfg.resume.extend)
        print(f"resuming from {saved.checkpoint}")
        return saved
    path = Path(requested)
    if not path.is_file():
        found = "a directory" if path.is_dir() else "no such file"
        raise RnnpipeError(f"ckpt_path={requested}: expected a checkpoint file, got {found}")
    return resume.read_saved_run(requested)


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
