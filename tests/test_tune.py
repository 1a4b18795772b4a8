"""Optuna studies for real: trials as MLflow runs, a study that resumes, pruning, directions, and
every task's search space composed against its experiment."""

from __future__ import annotations

import inspect
import time

import optuna
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_class
from mlflow import MlflowClient
from omegaconf import OmegaConf

from rnnpipe.cli.tune import as_override, open_study, suggest, trial_runs, tune
from rnnpipe.config import CONFIG_DIR
from rnnpipe.errors import RnnpipeError

pytestmark = pytest.mark.slow

EXPERIMENTS = sorted(path.stem for path in (CONFIG_DIR / "experiment").glob("*.yaml"))
TINY = ("model.hidden_size=8", "model.embedding_dim=8", "data.batch_size=64")
State = optuna.trial.TrialState


@pytest.fixture
def run_study(compose_config):
    """``run_study(*overrides)``: rnnpipe-tune on the sentiment sample, all in tmp_path.
    ``edit`` changes the composed config the way a YAML file would (e.g. swap the pruner);
    ``run_study.compose(*overrides)`` gives that config without running it."""

    def compose(*overrides: str):
        search = ("experiment=sentiment", "hparams_search=sentiment_optuna")
        return compose_config(*search, *overrides, config_name="tune")

    def run(*overrides: str, edit=None) -> optuna.Study:
        cfg = compose(*overrides)
        if edit:
            edit(cfg)
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            return tune(cfg)

    run.compose = compose
    return run


def task_of(experiment: str) -> str:
    """The task an experiment trains: its search space is conf/hparams_search/<task>_optuna."""
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=[f"experiment={experiment}"]).task_name


def sentiment_runs(tmp_path) -> tuple[MlflowClient, dict]:
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("sentiment")
    return client, {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}


def kill_a_running_trial(cfg) -> dict:
    """What a search killed mid-trial leaves in its storage: a RUNNING trial with sampled values
    and a heartbeat that has stopped. Returns the values."""
    study = open_study(cfg.hparams_search, cfg.optimized_mode)
    trial = study.ask()
    params = OmegaConf.to_container(cfg.hparams_search.params)
    del params["model.hidden_size"], params["model.embedding_dim"]  # pinned, as in TINY
    values = {key: suggest(trial, key, space) for key, space in params.items()}
    study._storage.record_heartbeat(trial._trial_id)
    time.sleep(cfg.hparams_search.grace_period + 1)
    return values


def test_trials_are_tagged_mlflow_runs_and_a_stopped_study_continues(run_study, tmp_path):
    quick = ("hparams_search.heartbeat_interval=1", "hparams_search.grace_period=1")
    study = run_study("hparams_search.n_trials=2", *quick, "trainer.max_epochs=1", *TINY)
    assert (tmp_path / "optuna.db").is_file()
    first = study.get_trials()
    assert [(t.number, t.state) for t in first] == [(0, State.COMPLETE), (1, State.COMPLETE)]

    client, runs = sentiment_runs(tmp_path)
    assert set(runs) == {t.user_attrs["mlflow_run_id"] for t in first}
    for trial in first:
        run = runs[trial.user_attrs["mlflow_run_id"]]
        assert run.info.status == "FINISHED"
        assert run.info.run_name == f"sentiment-tpe-trial-{trial.number}"
        assert run.data.tags["rnnpipe.optuna.study"] == "sentiment-tpe"
        assert run.data.tags["rnnpipe.optuna.trial"] == str(trial.number)
        assert run.data.tags["rnnpipe.optuna.state"] == "COMPLETE"
        # the run trained exactly what the trial sampled; the command line pinned the rest
        assert "model.hidden_size" not in trial.params
        assert run.data.params["model.hidden_size"] == "8"
        for key, value in trial.params.items():
            if isinstance(value, float):
                assert float(run.data.params[key]) == pytest.approx(value, rel=1e-9)
            else:
                assert run.data.params[key] == str(value), key
        # the trial's value is the best val/f1 the run recorded
        history = client.get_metric_history(run.info.run_id, "val/f1")
        assert trial.value == pytest.approx(max(m.value for m in history))
        assert trial.intermediate_values == {0: pytest.approx(history[0].value)}
        assert "model" not in {a.path for a in client.list_artifacts(run.info.run_id)}

    # the next search was killed during its trial 2; the same command continues the study:
    # trials 0 and 1 stay, trial 2 is marked failed and run again with its values
    killed_values = kill_a_running_trial(run_study.compose("hparams_search.n_trials=3", *quick))
    study = run_study("hparams_search.n_trials=3", *quick, "trainer.max_epochs=1", *TINY)
    trials = study.get_trials()
    assert [(t.number, t.state) for t in trials] == [
        (0, State.COMPLETE),
        (1, State.COMPLETE),
        (2, State.FAIL),
        (3, State.COMPLETE),
    ]
    for before, after in zip(first, trials, strict=False):
        assert (after.params, after.value, after.user_attrs) == (
            before.params,
            before.value,
            before.user_attrs,
        )
    assert trials[3].params == killed_values
    assert trials[3].system_attrs["failed_trial"] == 2
    _, runs = sentiment_runs(tmp_path)
    assert len(runs) == 3
    assert runs[trials[3].user_attrs["mlflow_run_id"]].info.run_name == "sentiment-tpe-trial-3"

    # a study that already holds n_trials finished trials trains nothing more
    assert len(run_study("hparams_search.n_trials=3", *TINY).get_trials()) == 4


def test_a_trial_of_several_seeds_scores_their_mean(run_study, tmp_path):
    study = run_study(
        "hparams_search.n_trials=1", "hparams_search.seeds_per_trial=2", "seed=7",
        "trainer.max_epochs=1", *TINY,
    )  # fmt: skip
    [trial] = study.get_trials()
    client, runs = sentiment_runs(tmp_path)
    by_seed = {run.data.params["seed"]: run for run in runs.values()}
    assert sorted(by_seed) == ["7", "8"]
    best = {seed: max(m.value for m in client.get_metric_history(run.info.run_id, "val/f1"))
            for seed, run in by_seed.items()}  # fmt: skip
    assert trial.user_attrs["run_values"] == [pytest.approx(best["7"]), pytest.approx(best["8"])]
    assert trial.value == pytest.approx((best["7"] + best["8"]) / 2)
    assert {run.info.run_name for run in runs.values()} == {
        "sentiment-tpe-trial-0-seed-7", "sentiment-tpe-trial-0-seed-8",
    }  # fmt: skip
    assert trial.user_attrs["mlflow_run_id"] == by_seed["7"].info.run_id  # it reports the curve
    assert all(r.data.tags["rnnpipe.optuna.trial"] == "0" for r in runs.values())


def test_a_cross_validated_trial_trains_every_fold_and_scores_their_validation_mean(
    run_study, tmp_path
):
    study = run_study(
        "hparams_search.n_trials=1", "hparams_search.folds_per_trial=2", "trainer.max_epochs=1",
        *TINY,
    )  # fmt: skip
    [trial] = study.get_trials()
    client, runs = sentiment_runs(tmp_path)
    by_fold = {run.data.params["data.fold"]: run for run in runs.values()}
    assert sorted(by_fold) == ["0", "1"]
    assert {run.data.params["data.folds"] for run in runs.values()} == {"2"}
    assert {run.info.run_name for run in runs.values()} == {
        "sentiment-tpe-trial-0-fold-0", "sentiment-tpe-trial-0-fold-1",
    }  # fmt: skip
    best = [max(m.value for m in client.get_metric_history(by_fold[f].info.run_id, "val/f1"))
            for f in ("0", "1")]  # fmt: skip
    assert trial.user_attrs["run_values"] == pytest.approx(best)  # validation, not the test fold
    assert trial.value == pytest.approx(sum(best) / 2)


def test_trial_runs_are_each_seed_on_every_fold_and_a_bad_fold_count_is_refused(run_study):
    cfg = run_study.compose(
        "hparams_search.seeds_per_trial=2", "hparams_search.folds_per_trial=2", "seed=3"
    )
    assert trial_runs(cfg) == [
        ("-seed-3-fold-0", ["seed=3", "data.folds=2", "data.fold=0"]),
        ("-seed-3-fold-1", ["seed=3", "data.folds=2", "data.fold=1"]),
        ("-seed-4-fold-0", ["seed=4", "data.folds=2", "data.fold=0"]),
        ("-seed-4-fold-1", ["seed=4", "data.folds=2", "data.fold=1"]),
    ]
    cfg.hparams_search.folds_per_trial = 1
    with pytest.raises(RnnpipeError, match=r"hparams_search\.folds_per_trial: expected null or"):
        trial_runs(cfg)


def test_a_trial_with_a_bad_validation_curve_is_pruned_and_its_run_killed(run_study, tmp_path):
    def unreachable_threshold(cfg):
        # val/f1 can never reach 1.1: the first validation epoch already condemns the trial
        cfg.hparams_search.pruner = {"_target_": "optuna.pruners.ThresholdPruner", "lower": 1.1}

    study = run_study(
        "hparams_search.n_trials=1", "trainer.max_epochs=3", *TINY, edit=unreachable_threshold
    )
    [trial] = study.get_trials()
    assert trial.state == State.PRUNED
    assert list(trial.intermediate_values) == [0]  # reported once, then stopped: 1 of 3 epochs

    client, runs = sentiment_runs(tmp_path)
    [run] = runs.values()
    assert run.info.run_id == trial.user_attrs["mlflow_run_id"]
    assert run.info.status == "KILLED"
    assert run.data.tags["rnnpipe.optuna.state"] == "PRUNED"
    assert len(client.get_metric_history(run.info.run_id, "val/f1")) == 1
    assert "test/f1" not in run.data.metrics  # never tested: it did not complete


def test_a_resumed_search_draws_afresh_and_a_new_one_reproducibly(compose_config):
    cfg = compose_config(
        "experiment=sentiment", "hparams_search=sentiment_optuna", config_name="tune"
    )
    params = OmegaConf.to_container(cfg.hparams_search.params)

    def one_search_of_one_trial(study_name: str) -> dict:
        cfg.hparams_search.study_name = study_name
        study = open_study(cfg.hparams_search, cfg.optimized_mode)  # as a new process would
        trial = study.ask()
        values = {key: suggest(trial, key, space) for key, space in params.items()}
        study.tell(trial, 0.5)
        return values

    first = one_search_of_one_trial("a")
    assert one_search_of_one_trial("a") != first  # resumed: not trial 0's values again
    assert one_search_of_one_trial("b") == first  # a new study with the same seed: the same


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_the_study_direction_follows_the_experiments_optimized_mode(compose_config, experiment):
    search = f"hparams_search={task_of(experiment)}_optuna"
    cfg = compose_config(f"experiment={experiment}", search, config_name="tune")
    study = open_study(cfg.hparams_search, cfg.optimized_mode)
    expected = {"max": "MAXIMIZE", "min": "MINIMIZE"}[cfg.optimized_mode]
    assert study.direction.name == expected
    assert study.study_name == cfg.hparams_search.study_name

    flipped = {"max": "min", "min": "max"}[cfg.optimized_mode]
    with pytest.raises(RnnpipeError, match=f"study '{study.study_name}' .* expected direction"):
        open_study(cfg.hparams_search, flipped)
    with pytest.raises(RnnpipeError, match="optimized_mode: expected one of"):
        open_study(cfg.hparams_search, "maximum")


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_search_space_composes_with_its_experiment(compose_config, experiment):
    task = task_of(experiment)
    assert (CONFIG_DIR / "hparams_search" / f"{task}_optuna.yaml").is_file()
    search = f"hparams_search={task}_optuna"
    cfg = compose_config(f"experiment={experiment}", search, config_name="tune")
    search = cfg.hparams_search
    assert search.n_trials > 0 and search.study_name.startswith(cfg.task_name)
    assert get_class(search.sampler._target_) is optuna.samplers.TPESampler
    assert issubclass(get_class(search.pruner._target_), optuna.pruners.BasePruner)

    # every searched key names an argument of what it configures (the model, its optimizer)
    for key in search.params:
        *path, name = key.split(".")
        owner = OmegaConf.select(cfg, ".".join(path))
        assert name in inspect.signature(get_class(owner._target_)).parameters, key

    # a sampled trial's overrides compose into a train config holding exactly those values
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    params = OmegaConf.to_container(search.params)
    values = {key: suggest(trial, key, space) for key, space in params.items()}
    overrides = [f"experiment={experiment}", *(as_override(k, v) for k, v in values.items())]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        train_cfg = compose("train", overrides=overrides)
    for key, value in values.items():
        expected = pytest.approx(value, rel=1e-9) if isinstance(value, float) else value
        assert OmegaConf.select(train_cfg, key) == expected, key
