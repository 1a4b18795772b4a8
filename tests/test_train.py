"""Real Lightning training for a few steps, recorded in a real MLflow store in tmp_path."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from rnnpipe.cli.evaluate import evaluate
from rnnpipe.cli.predict import predict
from rnnpipe.cli.train import train
from rnnpipe.tasks.registry import load_checkpoint

pytestmark = pytest.mark.slow


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for entry in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, entry.path) if entry.is_dir else {entry.path}
    return found


@pytest.fixture
def trained_run(compose_config, tmp_path):
    """One short training run on the bundled sample, with MLflow in tmp_path."""
    cfg = compose_config(
        "trainer.max_epochs=2",
        "model.hidden_size=16",
        "model.embedding_dim=8",
        "register_model=true",
    )
    metrics = train(cfg)
    client = MlflowClient(cfg.logger.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    return cfg, metrics, client, run


def test_training_records_params_metrics_artifacts_and_model(trained_run, tmp_path):
    cfg, metrics, client, run = trained_run
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith(str(tmp_path / "mlartifacts" / "sentiment"))

    params = run.data.params
    assert params["model.hidden_size"] == "16"
    assert params["model.nonlinearity"] == "tanh"
    assert params["data.batch_size"] == "32"
    assert params["trainer.max_epochs"] == "2"
    assert params["model.optimizer._target_"] == "torch.optim.AdamW"

    tags = run.data.tags
    assert tags["rnnpipe.overrides"].endswith(
        "trainer.max_epochs=2 model.hidden_size=16 model.embedding_dim=8 register_model=true"
    )
    assert len(tags["mlflow.source.git.commit"].split("-")[0]) in (40, len("unknown"))
    assert "rnnpipe.command" in tags

    sample = Path(cfg.data.path)
    assert tags["rnnpipe.data.reviews.path"] == str(sample)
    assert tags["rnnpipe.data.reviews.sha256"] == hashlib.sha256(sample.read_bytes()).hexdigest()
    assert tags["rnnpipe.data.reviews.lines"] == "321"  # header + 320 reviews
    [dataset_input] = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "reviews_sample.tsv"
    assert dataset_input.dataset.digest == tags["rnnpipe.data.reviews.sha256"][:10]
    assert "cores" in tags["rnnpipe.hardware"]
    assert run.data.metrics["time/fit_seconds"] > 0

    for name in ("train/loss", "val/loss", "val/acc", "val/f1", "test/acc", "test/f1", "test/loss"):
        assert name in run.data.metrics, name
    assert len(client.get_metric_history(run.info.run_id, "val/f1")) == 2  # one value per epoch
    assert run.data.metrics["test/acc"] == pytest.approx(metrics["test/acc"])
    assert 0.0 <= run.data.metrics["test/acc"] <= 1.0

    artifacts = artifact_paths(client, run.info.run_id)
    assert {
        "config/config.yaml",
        "tokenizer/tokenizer.json",
        "plots/confusion_matrix.png",
        "predictions/test_predictions.tsv",
    } <= artifacts
    assert any(path.startswith("checkpoints/") and path.endswith(".ckpt") for path in artifacts)

    predictions = pd.read_csv(
        client.download_artifacts(run.info.run_id, "predictions/test_predictions.tsv"), sep="\t"
    )
    assert list(predictions.columns) == ["line", "text", "label", "predicted", "probability"]
    assert len(predictions) == 48  # 15 % of 320 reviews
    assert (predictions["label"] == predictions["predicted"]).mean() == pytest.approx(
        metrics["test/acc"]
    )

    [version] = client.search_model_versions("name='rnnpipe-sentiment'")
    assert version.run_id == run.info.run_id


def test_logged_pyfunc_answers_raw_text(trained_run):
    cfg, _, _, run = trained_run
    mlflow.set_tracking_uri(cfg.logger.tracking_uri)
    for uri in ("models:/rnnpipe-sentiment/1", f"runs:/{run.info.run_id}/model"):
        model = mlflow.pyfunc.load_model(uri)
        answer = model.predict(
            pd.DataFrame({"text": ["Loved the pasta!", "Cold food, rude staff.", "ok"]})
        )
        assert list(answer.columns) == [
            "label", "probability", "probability_negative", "probability_positive",
        ]  # fmt: skip
        assert len(answer) == 3
        assert set(answer["label"]) <= {"negative", "positive"}
    signature = model.metadata.signature
    assert signature.inputs.input_names() == ["text"]


def test_evaluate_and_predict_from_the_registry(trained_run, compose_config, write_reviews, capsys):
    cfg, _, client, _ = trained_run
    new_file = write_reviews(
        [("Wonderful food and friendly staff.", 1), ("Dirty tables, awful.", 0)]
    )
    eval_cfg = compose_config(
        "model_uri=models:/rnnpipe-sentiment/1", f"data_path={new_file}", config_name="evaluate"
    )
    metrics = evaluate(eval_cfg)
    assert set(metrics) == {"test/acc", "test/f1", "test/loss"}
    assert metrics["test/acc"] in (0.0, 0.5, 1.0)
    runs = client.search_runs(
        [client.get_experiment_by_name("sentiment").experiment_id],
        filter_string="tags.`rnnpipe.evaluated_model` = 'models:/rnnpipe-sentiment/1'",
    )
    assert [r.data.metrics["test/acc"] for r in runs] == [metrics["test/acc"]]

    predict_cfg = compose_config(
        "model_uri=models:/rnnpipe-sentiment/1",
        "texts=['Great pizza!','Rude waiter.']",
        config_name="predict",
    )
    table = predict(predict_cfg)
    assert table["input"].tolist() == ["Great pizza!", "Rude waiter."]
    assert "Great pizza!" in capsys.readouterr().out


@pytest.mark.learning(seed=42)
def test_trivially_separable_reviews_are_learned_perfectly(
    compose_config, write_reviews, learning_seed
):
    good = ["great tasty food", "lovely friendly staff", "great lovely place", "tasty great dinner"]
    bad = ["awful cold food", "rude dirty staff", "awful rude place", "cold dirty dinner"]
    rows = [(text, 1) for text in good] * 6 + [(text, 0) for text in bad] * 6
    path = write_reviews(rows)
    cfg = compose_config(
        f"seed={learning_seed}",
        f"data.path={path}",
        "data.batch_size=8",
        "trainer.max_epochs=30",
        "optimized_metric=val/loss",  # the best checkpoint is a trained one, not the first at
        "optimized_mode=min",  # val/acc 1.0 (4 seeds of 30 then read one of the two below wrong)
        "logger=csv",
        "callbacks.early_stopping.patience=30",
        "model.hidden_size=16",
        "model.dropout=0.0",
        "model.optimizer.lr=0.01",
    )
    metrics = train(cfg)
    assert metrics["test/acc"] == 1.0
    assert metrics["val/acc"] == 1.0

    [best] = (Path(cfg.paths.run_dir) / "checkpoints").glob("epoch*.ckpt")
    model = load_checkpoint(best)
    answer = model.predict_texts(["great friendly dinner", "rude cold place"])
    assert answer["label"].tolist() == ["positive", "negative"]


def test_offline_runs_keep_their_reports_and_evaluate_offline(compose_config, write_reviews):
    cfg = compose_config("trainer.max_epochs=1", "logger=csv", "model.hidden_size=8")
    trained = train(cfg)
    reports = Path(cfg.paths.run_dir) / "reports"
    tested = pd.read_csv(reports / "predictions" / "test_predictions.tsv", sep="\t")
    assert len(tested) == 48
    assert (reports / "plots" / "confusion_matrix.png").stat().st_size > 0

    # without data_path: its own held-out test split, the same 48 reviews scored the same way
    checkpoint = Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt"  # one epoch: the best
    own_split = compose_config(f"model_uri={checkpoint}", "logger=csv", config_name="evaluate")
    evaluate(own_split)
    rescored = pd.read_csv(reports / "predictions" / "test_predictions.tsv", sep="\t")
    pd.testing.assert_frame_equal(rescored, tested)
    own_val = compose_config(
        f"model_uri={checkpoint}", "split=val", "logger=csv", config_name="evaluate"
    )
    validated = evaluate(own_val)  # the validation split training selected on, scored again
    assert set(validated) == {"val/acc", "val/f1", "val/loss"}
    assert validated["val/acc"] == pytest.approx(trained["val/acc"])
    assert validated["val/loss"] == pytest.approx(trained["val/loss"], rel=1e-5)

    data = write_reviews([("Lovely.", 1), ("Awful.", 0), ("Fine food.", 1)])
    eval_cfg = compose_config(
        f"model_uri={checkpoint}", f"data_path={data}", "logger=csv", config_name="evaluate"
    )
    assert set(evaluate(eval_cfg)) == {"test/acc", "test/f1", "test/loss"}
    scored = pd.read_csv(reports / "predictions" / "test_predictions.tsv", sep="\t")
    assert scored["text"].tolist() == ["Lovely.", "Awful.", "Fine food."]


def test_a_checkpoint_needs_no_code_to_load(compose_config):
    cfg = compose_config("trainer.max_epochs=1", "logger=csv", "model.hidden_size=8")
    train(cfg)
    checkpoint = Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt"
    saved = torch.load(checkpoint, weights_only=True)  # no pickled objects inside
    assert saved["rnnpipe"]["module"] == "rnnpipe.tasks.sentiment.model.SentimentClassifier"
    assert "tokenizer" in saved["rnnpipe"]["preprocessing"]["tokenizers"]
    assert saved["hyper_parameters"]["optimizer"] == {
        "_target_": "torch.optim.AdamW",
        "lr": 0.003,
        "weight_decay": 0.01,
        "fused": True,
    }


def test_lightnings_fast_dev_run_smoke_check_finishes(compose_config):
    # Lightning swaps the logger for a stand-in that answers any attribute: the checkpoint's
    # MLflow run id must come from a real MLflow logger only (it was an unpicklable method)
    cfg = compose_config("+trainer.fast_dev_run=true")
    metrics = train(cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0
    client = MlflowClient(cfg.logger.tracking_uri)  # a smoke check records no run
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []
    assert "SystemMetricsMonitor" not in {thread.name for thread in threading.enumerate()}
