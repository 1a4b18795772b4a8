"""A seed group is a model: cross-validation of seed ensembles, run for real by the documented
``make cross-validate SEEDS=n``: a multirun over 2 folds x 2 seeds, then
``rnnpipe-evaluate -m model_uri=runs:/<its group> fold=0,1``: one ensemble a fold, of exactly
that fold's seeds, scored on that fold's own test reviews, as a fold group that
``rnnpipe-compare`` pairs with the training runs review by review."""

from __future__ import annotations

import subprocess

import pytest
from mlflow import MlflowClient

from rnnpipe.cli import compare as compare_cli
from rnnpipe.comparison.items import read_items
from rnnpipe.config import PROJECT_ROOT
from rnnpipe.errors import RnnpipeError
from rnnpipe.tracking.loading import load_models, resolve_checkpoints
from rnnpipe.tracking.seed_groups import group_members, is_group

pytestmark = pytest.mark.slow

SAMPLE = PROJECT_ROOT / "data" / "reviews_sample.tsv"


def test_make_cross_validate_with_seeds_evaluates_one_ensemble_a_fold(tmp_path, capsys):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    where = f"paths.output_dir={tmp_path}/outputs paths.tracking_dir={tmp_path}"
    train_args = (
        f"data.path={SAMPLE} model.hidden_size=8 model.embedding_dim=8 trainer.max_epochs=1 "
        f"register_model=false promote=null ~callbacks.progress_bar "
        f"trainer.enable_progress_bar=false {where}"
    )
    finished = subprocess.run(
        ["make", "-C", str(PROJECT_ROOT), "-o", ".venv/.installed", "cross-validate", "FOLDS=2",
         "SEEDS=2", f"CV_DIR={tmp_path}/cv", f"ARGS={train_args}",
         f"EVAL_ARGS=trainer.enable_progress_bar=false {where}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("sentiment").experiment_id
    groups = [r for r in client.search_runs([experiment]) if is_group(r)]
    [training_group] = [g for g in groups if "rnnpipe.evaluated_split" not in
                        group_members(client, g)[0].data.tags]  # fmt: skip
    # the sweep directory lists the group: how the second step found the first's
    assert (tmp_path / "cv" / "seed_groups.txt").read_text() == f"{training_group.info.run_id}\n"
    group_uri = f"runs:/{training_group.info.run_id}"

    with pytest.raises(RnnpipeError) as refused:
        resolve_checkpoints(group_uri, tmp_path, store)
    assert str(refused.value) == (
        f"{group_uri}: a cross-validation group (folds 0..1): expected fold=<k>, "
        "for the ensemble of that fold's runs"
    )
    one_run = f"runs:/{group_members(client, training_group)[0].info.run_id}/model"
    for reference, fold, message in [
        (one_run, 0, f"fold=0: expected a cross-validation group's parent run (runs:/<id>) as "
                     f"model_uri, got {one_run}"),
        (group_uri, 2, f"fold=2: expected one of {group_uri}'s folds [0, 1]"),
    ]:  # fmt: skip
        with pytest.raises(RnnpipeError) as refused:
            resolve_checkpoints(reference, tmp_path, store, fold=fold)
        assert str(refused.value) == message
    [ensembles] = [g for g in groups if g.info.run_id != training_group.info.run_id]
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
