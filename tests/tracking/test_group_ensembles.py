"""A seed group is a model: cross-validation of seed ensembles, run for real. A multirun over
2 folds x 2 seeds, then ``rnnpipe-evaluate -m model_uri=runs:/<its group> fold=0,1``: one
ensemble a fold, of exactly that fold's seeds, scored on that fold's own test reviews, as a fold
group that ``rnnpipe-compare`` pairs with the training runs review by review."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow import MlflowClient

from rnnpipe.cli import compare as compare_cli
from rnnpipe.comparison.items import read_items
from rnnpipe.config import PROJECT_ROOT
from rnnpipe.tracking.loading import load_models
from rnnpipe.tracking.seed_groups import group_members, is_group

pytestmark = pytest.mark.slow

SAMPLE = PROJECT_ROOT / "data" / "reviews_sample.tsv"


def run_cli(module: str, *overrides: str, tmp_path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", f"rnnpipe.cli.{module}", *overrides,
               f"paths.output_dir={tmp_path}/outputs", f"paths.tracking_dir={tmp_path}",
               "trainer.enable_progress_bar=false"]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_a_cross_validation_group_of_seeds_is_evaluated_as_one_ensemble_a_fold(tmp_path, capsys):
    trained = run_cli(
        "train", "-m", "experiment=sentiment", f"data.path={SAMPLE}", "data.folds=2",
        "data.fold=0,1", "seed=1,2", "model.hidden_size=8", "model.embedding_dim=8",
        "trainer.max_epochs=1", "register_model=false", "promote=null", "~callbacks.progress_bar",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    store = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("sentiment").experiment_id
    [training_group] = [r for r in client.search_runs([experiment]) if is_group(r)]
    [listing] = (tmp_path / "outputs" / "sentiment" / "multirun").glob("*/seed_groups.txt")
    assert (
        listing.read_text() == f"{training_group.info.run_id}\n"
    )  # what make cross-validate reads
    group_uri = f"runs:/{training_group.info.run_id}"

    refused = run_cli("evaluate", f"model_uri={group_uri}", tmp_path=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {group_uri}: a cross-validation group (folds 0..1): expected fold=<k>, "
        "for the ensemble of that fold's runs"
    )

    evaluated = run_cli("evaluate", "-m", f"model_uri={group_uri}", "fold=0,1", tmp_path=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    [ensembles] = [
        r for r in client.search_runs([experiment])
        if is_group(r) and r.info.run_id != training_group.info.run_id
    ]  # fmt: skip
    members = group_members(client, ensembles)
    assert sorted(r.data.params["fold"] for r in members) == ["0", "1"]
    seeds = group_members(client, training_group)
    for run in members:
        assert run.data.tags["rnnpipe.task"] == "sentiment"
        assert run.data.tags["rnnpipe.evaluated_split"] == "test"
        fold = run.data.params["fold"]
        assert run.data.params["data.fold"] == fold and run.data.params["data.folds"] == "2"
        its_seeds = [s for s in seeds if s.data.params["data.fold"] == fold]
        assert sorted(s.data.params["seed"] for s in its_seeds) == ["1", "2"]

        # the same reviews as the fold's training runs tested, scored by their two-seed ensemble
        table = read_items(client.download_artifacts(
            run.info.run_id, "predictions/test_predictions.tsv", str(tmp_path / run.info.run_id)
        ))  # fmt: skip
        seed_table = read_items(client.download_artifacts(
            its_seeds[0].info.run_id, "predictions/test_predictions.tsv", str(tmp_path / fold)
        ))  # fmt: skip
        assert table["line"].tolist() == seed_table["line"].tolist()
        ensemble = load_models([f"runs:/{s.info.run_id}/model" for s in its_seeds], store)
        expected = ensemble.predict_texts(table["text"].tolist())
        assert table["predicted"].tolist() == expected["label"].tolist()
        assert table["probability"].tolist() == pytest.approx(
            expected["probability"].tolist(), abs=1e-5
        )
        right = (table["label"] == table["predicted"]).mean()
        assert run.data.metrics["test/acc"] == pytest.approx(right)

    capsys.readouterr()
    compare_cli.main(
        [training_group.info.run_id, ensembles.info.run_id, "--tracking-uri", store]
    )  # the same reviews on both sides: every one tested once by each
    row = capsys.readouterr().out.splitlines()[3].split("|")
    assert float(row[4]) == pytest.approx(ensembles.data.metrics["test/acc/mean"], abs=0.01)
