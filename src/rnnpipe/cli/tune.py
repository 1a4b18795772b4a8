"""``rnnpipe-tune``: an Optuna search over a task's hyperparameters, one MLflow run per trial.

rnnpipe-tune experiment=ner hparams_search=ner_optuna          # make tune TASK=ner
rnnpipe-tune experiment=ner hparams_search=ner_optuna hparams_search.n_trials=50 data.batch_size=64

Each trial composes the real ``train`` config from the command line's overrides plus the values
the sampler chose (``model.hidden_size=128 model.optimizer.lr=0.0021 ...``) and trains it with
:func:`rnnpipe.cli.train.train`, so a trial is exactly the ``rnnpipe-train`` run its overrides give.
The study (``conf/hparams_search/<task>_optuna.yaml``) lives in SQLite: the same command again
continues it until it holds ``n_trials`` finished trials. :class:`TrialReporter` reports the
validation curve to the trial, and the study's pruner stops a trial whose curve is bad.

Why not Hydra's Optuna sweeper: hydra-optuna-sweeper 1.3 pins optuna < 3, whose SQLite storage
fails under SQLAlchemy 2 (which MLflow needs), and a sweeper only sees a job's final value, so it
cannot prune.
"""

from __future__ import annotations

import shlex
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import numpy as np
import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig, OmegaConf, open_dict

from rnnpipe.cli.train import train
from rnnpipe.config import CONFIG_DIR, override_keys
from rnnpipe.errors import RnnpipeError, reported_in_one_line

SEARCH_KEY = "hparams_search"
DIRECTIONS = {"max": "maximize", "min": "minimize"}
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


# -- the search space ------------------------------------------------------------------------
def suggest(trial: optuna.Trial, key: str, space: Mapping[str, Any]) -> Any:
    """One value for ``key`` from its declared space (``conf/hparams_search/*.yaml``)."""
    kind = space.get("type")
    if kind == "categorical":
        return trial.suggest_categorical(key, list(space["choices"]))
    if kind == "int":
        return trial.suggest_int(
            key, space["low"], space["high"], step=space.get("step", 1), log=space.get("log", False)
        )
    if kind == "float":
        return trial.suggest_float(
            key, space["low"], space["high"], step=space.get("step"), log=space.get("log", False)
        )
    raise RnnpipeError(
        f"{SEARCH_KEY}.params.{key}: expected type categorical, int or float, got {kind!r}"
    )


def as_override(key: str, value: Any) -> str:
    """``key=value`` as Hydra reads it back (``true``, ``null``, ``0.0021``)."""
    if value is None:
        return f"{key}=null"
    if isinstance(value, bool):
        return f"{key}={str(value).lower()}"
    if isinstance(value, float):
        text = f"{value:.12g}"  # 0.30000000000000004 (a float step) -> 0.3
        return f"{key}={text}.0" if text.lstrip("-").isdigit() else f"{key}={text}"
    return f"{key}={value}"


def train_overrides(overrides: Sequence[str]) -> list[str]:
    """The command line's overrides that are meant for training, not for the search itself."""
    keys = override_keys(overrides)
    return [
        override
        for override, key in zip(overrides, keys, strict=True)
        if key != SEARCH_KEY and not key.startswith(f"{SEARCH_KEY}.")
    ]


def searched_params(search: DictConfig, pinned: Sequence[str]) -> dict[str, Any]:
    """The search space less the keys the command line pinned to one value."""
    params = OmegaConf.to_container(search.params, resolve=True)
    return {key: space for key, space in params.items() if key not in set(pinned)}


# -- the study -------------------------------------------------------------------------------
def direction(optimized_mode: str) -> str:
    if optimized_mode not in DIRECTIONS:
        raise RnnpipeError(
            f"optimized_mode: expected one of {sorted(DIRECTIONS)}, got {optimized_mode!r}"
        )
    return DIRECTIONS[optimized_mode]


def open_study(search: DictConfig, optimized_mode: str) -> optuna.Study:
    """Create the study, or load it from its storage when it exists: a resumed search."""
    with warnings.catch_warnings():  # heartbeats are "experimental" in optuna; we rely on them
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            search.storage,
            heartbeat_interval=search.heartbeat_interval,
            grace_period=search.grace_period,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=1
            ),
        )
    study = optuna.create_study(
        study_name=search.study_name,
        storage=storage,
        pruner=instantiate(search.pruner),
        direction=direction(optimized_mode),
        load_if_exists=True,
    )
    study.sampler = instantiate(search.sampler, seed=sampler_seed(search.sampler, study))
    if study.direction.name.lower() != direction(optimized_mode):
        raise RnnpipeError(
            f"study {search.study_name!r} in {search.storage}: expected direction "
            f"{direction(optimized_mode)} (optimized_mode={optimized_mode}), got "
            f"{study.direction.name.lower()}; choose another {SEARCH_KEY}.study_name"
        )
    return study


def sampler_seed(sampler: DictConfig, study: optuna.Study) -> int | None:
    """The configured seed, moved on by the trials already in the study: a resumed search must
    not replay the random draws of the one before it (its first trials' values, again)."""
    if sampler.get("seed") is None:
        return None
    return int(np.random.SeedSequence([sampler.seed, len(study.trials)]).generate_state(1)[0])


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=FINISHED)


# -- one trial -------------------------------------------------------------------------------
class TrialReporter(L.Callback):
    """Ties one Lightning fit to its Optuna trial.

    At fit start it tags the trial's MLflow run with the study and the trial number; the run that
    ``reports`` (a trial's first seed) keeps its run id on the trial and, after every validation
    epoch, reports ``metric`` to the trial and raises :class:`optuna.TrialPruned` when the
    study's pruner says the curve is bad.
    """

    def __init__(self, trial: optuna.Trial, metric: str, reports: bool):
        self.trial = trial
        self.metric = metric
        self.reports = reports
        self.logger: MLFlowLogger | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if isinstance(trainer.logger, MLFlowLogger):
            self.logger = trainer.logger
            if self.reports:
                self.trial.set_user_attr("mlflow_run_id", self.logger.run_id)
            self.set_tags(
                {
                    "rnnpipe.optuna.study": self.trial.study.study_name,
                    "rnnpipe.optuna.trial": str(self.trial.number),
                }
            )

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.metric)
        if trainer.sanity_checking or value is None or not self.reports:
            return
        epoch = trainer.current_epoch
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"epoch {epoch}: {self.metric} = {float(value):.4f}")

    def set_tags(self, tags: Mapping[str, str]) -> None:
        if self.logger is not None:
            for key, value in tags.items():
                self.logger.experiment.set_tag(self.logger.run_id, key, value)

    def mark_pruned(self) -> None:
        """A pruned trial's run was stopped on purpose: KILLED (train() left it FAILED)."""
        self.set_tags({"rnnpipe.optuna.state": "PRUNED"})
        if self.logger is not None:
            self.logger.experiment.set_terminated(self.logger.run_id, "KILLED")


@contextmanager
def trial_config(overrides: Sequence[str]) -> Iterator[DictConfig]:
    """The ``train`` config these overrides compose, with HydraConfig set to it while it is in use
    (so the run's ``rnnpipe.overrides`` tag is what reproduces the trial)."""
    cfg = hydra.compose("train", overrides=list(overrides), return_hydra_config=True)
    outer = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    try:
        yield cfg
    finally:
        HydraConfig.instance().cfg = outer


def trial_runs(cfg: DictConfig) -> list[tuple[str, list[str]]]:
    """``(name suffix, overrides)`` of each run a trial trains: ``seeds_per_trial`` seeds
    (``seed``, ``seed + 1``, ...), each on every fold of ``folds_per_trial`` when it is set
    (``data.folds=k data.fold=i``: k-fold cross-validation, scored on each fold's validation
    split, never on its test fold)."""
    search = cfg[SEARCH_KEY]
    seeds, folds = search.seeds_per_trial, search.get("folds_per_trial")
    if not isinstance(seeds, int) or seeds < 1:
        raise RnnpipeError(f"{SEARCH_KEY}.seeds_per_trial: expected a positive integer, "
                           f"got {seeds!r}")  # fmt: skip
    if folds is not None and (not isinstance(folds, int) or folds < 2):
        raise RnnpipeError(f"{SEARCH_KEY}.folds_per_trial: expected null or an integer of at "
                           f"least 2, got {folds!r}")  # fmt: skip
    runs = []
    for seed in range(cfg.seed, cfg.seed + seeds):
        seed_run = ("", []) if seeds == 1 else (f"-seed-{seed}", [f"seed={seed}"])
        if folds is None:
            runs.append(seed_run)
            continue
        suffix, overrides = seed_run
        runs += [
            (f"{suffix}-fold-{fold}", [*overrides, f"data.folds={folds}", f"data.fold={fold}"])
            for fold in range(folds)
        ]
    return runs


def run_trial(
    trial: optuna.Trial,
    cfg: DictConfig,
    command_line: Sequence[str],
    params: Mapping[str, Any],
) -> float:
    """Train the config this trial's values give once for each of :func:`trial_runs` (one
    validation score is noisy at small data sizes); the trial's value is the mean over the runs
    of each run's best ``optimized_metric``. Only the first run's curve is reported to the trial
    (Optuna keeps one value a step), so the pruner judges it."""
    search = cfg[SEARCH_KEY]
    sampled = [as_override(key, suggest(trial, key, space)) for key, space in params.items()]
    values = []
    for index, (suffix, run_overrides) in enumerate(trial_runs(cfg)):
        run_dir = Path(cfg.paths.run_dir) / f"trial_{trial.number:03d}{suffix.replace('-', '_')}"
        overrides = [
            *search.trial_overrides,
            *command_line,
            *sampled,
            f"run_name={search.study_name}-trial-{trial.number}{suffix}",
            f"paths.run_dir={run_dir}",
            *run_overrides,
        ]
        reporter = TrialReporter(trial, cfg.optimized_metric, reports=index == 0)
        with trial_config(overrides) as trial_cfg:
            try:
                metrics = train(trial_cfg, extra_callbacks=[reporter])
            except optuna.TrialPruned:
                reporter.mark_pruned()
                raise
        reporter.set_tags({"rnnpipe.optuna.state": "COMPLETE"})
        values.append(metrics[cfg.optimized_metric])
    trial.set_user_attr("run_values", values)
    return float(np.mean(values))


# -- the search ------------------------------------------------------------------------------
def tune(cfg: DictConfig) -> optuna.Study:
    """Run (or continue) the study until it holds ``n_trials`` finished trials.

    Call it inside a Hydra app or ``hydra.initialize_config_dir``: trials are composed from
    ``conf/train.yaml`` with the overrides HydraConfig holds for this run.
    """
    search = cfg[SEARCH_KEY]
    command_line = train_overrides(HydraConfig.get().overrides.task)
    params = searched_params(search, pinned=override_keys(command_line))
    study = open_study(search, cfg.optimized_mode)
    remaining = search.n_trials - len(finished_trials(study))
    if remaining > 0:
        study.optimize(
            lambda trial: run_trial(trial, cfg, command_line, params),
            n_trials=remaining,
            # searches run side by side on one storage stop together at n_trials
            callbacks=[optuna.study.MaxTrialsCallback(search.n_trials, states=FINISHED)],
            gc_after_trial=True,
        )
    print_summary(study, cfg, command_line)
    return study


def print_summary(study: optuna.Study, cfg: DictConfig, command_line: Sequence[str]) -> None:
    trials = finished_trials(study)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in trials)
    print(f"\nstudy {study.study_name} ({cfg[SEARCH_KEY].storage})")
    print(f"{len(trials)} finished trials ({pruned} pruned) of n_trials={cfg[SEARCH_KEY].n_trials}")
    if len(trials) == pruned:
        return
    best = study.best_trial
    print(f"best: trial {best.number}, {cfg.optimized_metric} = {best.value:.4f}", end="")
    print(f", MLflow run {best.user_attrs.get('mlflow_run_id')}")
    retrain = [*command_line, *(as_override(k, v) for k, v in best.params.items())]
    print(f"train it: {shlex.join(['rnnpipe-train', *retrain])}")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="tune")
def main(cfg: DictConfig) -> float | None:
    """Console entry; returns the best value found (None while no trial has completed)."""
    with reported_in_one_line():
        study = tune(cfg)
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return study.best_value if completed else None


if __name__ == "__main__":
    main()
