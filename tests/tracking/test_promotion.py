"""Registration by rule: each version says what it is, @champion moves only to a better model on
the same test set, anything else becomes @challenger (real tiny trainings, a real store)."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from hydra.core.hydra_config import HydraConfig
from mlflow import MlflowClient

from rnnpipe.cli import promote as promote_cli
from rnnpipe.cli.train import train

pytestmark = pytest.mark.slow

NAME = "rnnpipe-sentiment"
UNTRAINED = ("model.optimizer.lr=0", "trainer.max_epochs=1")  # stays at its initialisation
TRAINED = ("trainer.max_epochs=6", "model.optimizer.lr=0.01")


@pytest.mark.learning(seed=3)
def test_champion_moves_only_to_a_better_model_on_the_same_test_set(
    compose_config, capsys, learning_seed
):
    def registered(*overrides: str) -> tuple[float, str]:
        cfg = compose_config(
            "register_model=true",
            "promote=auto",
            "model.hidden_size=16",
            f"seed={learning_seed}",
            *overrides,
        )
        metrics = train(cfg)
        HydraConfig.instance().cfg = None
        return metrics["test/acc"], capsys.readouterr().out

    client = MlflowClient(compose_config().logger.tracking_uri)

    first_acc, said = registered(*UNTRAINED)
    assert "models:/rnnpipe-sentiment/1 -> @champion: test/acc" in said
    assert "there was no champion" in said and "no paired significance test yet" in said

    better_acc, said = registered(*TRAINED)
    assert better_acc > first_acc  # the trained model is better: it takes the title
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "2"
    assert f"test/acc {better_acc:.4f} against champion version 1's {first_acc:.4f}" in said

    worse_acc, said = registered(*UNTRAINED)
    assert worse_acc < better_acc
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "2"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == "3"
    assert said.count("@challenger") == 1

    # another held-out split is another test set: not comparable, whatever its score
    _, said = registered(*TRAINED, "data.split_seed=11")
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "2"
    assert "@challenger: tested on another test set than champion version 2" in said

    version = client.get_model_version(NAME, "2")
    run = client.get_run(version.run_id)
    assert version.tags["test/acc"] == f"{run.data.metrics['test/acc']:.6g}"
    assert version.tags["git_commit"] == run.data.tags["mlflow.source.git.commit"]
    assert (
        version.tags["rnnpipe.data.reviews.sha256"] == run.data.tags["rnnpipe.data.reviews.sha256"]
    )
    assert version.tags["test_set"] == client.get_model_version(NAME, "1").tags["test_set"]
    assert version.tags["test_set"] != client.get_model_version(NAME, "4").tags["test_set"]
    assert run.info.run_id in version.description and "test/acc" in version.description

    mlflow.set_tracking_uri(client.tracking_uri)
    served = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    assert len(served.predict(pd.DataFrame({"text": ["Lovely pasta."]}))) == 1


def test_rnnpipe_promote_says_why_and_refuses_what_it_cannot_promote(compose_config, capsys):
    cfg = compose_config("register_model=true", "model.hidden_size=8", "trainer.max_epochs=1")
    train(cfg)
    HydraConfig.instance().cfg = None
    store = ["--tracking-uri", cfg.logger.tracking_uri]
    capsys.readouterr()
    promote_cli.main([f"models:/{NAME}/1", *store])
    assert capsys.readouterr().out.startswith(f"models:/{NAME}/1 -> @champion: test/acc ")
    promote_cli.main([f"models:/{NAME}/1", *store])
    assert "version 1 is the champion already" in capsys.readouterr().out

    for uri, expected in [
        (f"models:/{NAME}/latest", "expected models:/rnnpipe-<task>/<version>"),
        ("models:/rnnpipe-nope/1", "expected a model of a task"),
        (f"models:/{NAME}/9", f"models:/{NAME}/9: "),
    ]:
        with pytest.raises(SystemExit):
            promote_cli.main([uri, *store])
        error = capsys.readouterr().err
        assert error.startswith("error: ") and expected in error and error.count("\n") == 1


def test_promotions_racing_each_other_leave_the_best_version_champion(tmp_path):
    # six versions of one test set, each promoted by its own rnnpipe-promote, all at once: each
    # compares and sets under the store's lock, so the best one holds @champion at the end
    store = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(store)
    experiment = client.create_experiment("sentiment", f"{tmp_path}/mlartifacts")
    client.create_registered_model(NAME)
    scores = [0.61, 0.74, 0.58, 0.9, 0.66, 0.7]
    for score in scores:
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "test/acc", score)
        client.set_tag(run.info.run_id, "rnnpipe.data.reviews.sha256", "same-test-set")
        client.set_terminated(run.info.run_id)
        client.create_model_version(NAME, f"runs:/{run.info.run_id}/model", run.info.run_id)
    command = [sys.executable, "-m", "rnnpipe.cli.promote", "--tracking-uri", store]
    racing = [
        subprocess.Popen([*command, f"models:/{NAME}/{v}"], stdout=subprocess.PIPE, text=True)
        for v in range(1, len(scores) + 1)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in racing]
    assert [process.returncode for process in racing] == [0] * len(scores), outputs
    best = str(scores.index(max(scores)) + 1)
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == best
    assert sum("-> @champion" in said for said in outputs) >= 1


def test_a_resume_after_a_kill_that_followed_registration_adds_no_second_version(
    compose_config, tmp_path
):
    overrides = ("register_model=true", "model.hidden_size=8", "trainer.max_epochs=1")
    train(compose_config(*overrides))
    HydraConfig.instance().cfg = None
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    [version] = client.search_model_versions(f"name='{NAME}'")
    # what a kill right after the registration leaves: the version untagged, the run unfinished
    for key in version.tags:
        client.delete_model_version_tag(NAME, version.version, key)
    client.set_terminated(version.run_id, "KILLED")

    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    train(compose_config(*overrides, f"ckpt_path={last}", "promote=auto"))

    [again] = client.search_model_versions(f"name='{NAME}'")
    assert (again.version, again.run_id) == (version.version, version.run_id)
    assert again.tags["run_id"] == version.run_id and "test/acc" in again.tags
    assert client.get_model_version_by_alias(NAME, "champion").version == version.version


def test_a_promotion_that_cannot_be_made_leaves_the_run_finished(compose_config, capsys):
    cfg = compose_config(
        "register_model=true", "promote=auto", "test=false", "model.hidden_size=8",
        "trainer.max_epochs=1",
    )  # fmt: skip
    train(cfg)
    warning = capsys.readouterr().err
    assert f"warning: models:/{NAME}/1 not promoted: {NAME} version 1: expected a run with " in (
        warning
    )
    client = MlflowClient(cfg.logger.tracking_uri)
    [version] = client.search_model_versions(f"name='{NAME}'")
    assert client.get_run(version.run_id).info.status == "FINISHED"
    assert version.aliases == []
