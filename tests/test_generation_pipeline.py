"""`rnnpipe-train experiment=generation` end to end, in a real MLflow store in tmp_path: the run,
its metrics and artifacts, the sentiment model reading the samples, the registered model."""

from __future__ import annotations

import math

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from test_train import artifact_paths

from rnnpipe.cli.evaluate import evaluate
from rnnpipe.cli.predict import predict
from rnnpipe.cli.train import train
from rnnpipe.comparison.items import ITEMS, read_items

pytestmark = pytest.mark.slow

SAMPLES_PER_LABEL = 4


@pytest.fixture
def generation_run(compose_config, learning_seed):
    """A sentiment model registered as rnnpipe-sentiment/1, then a short generation run that
    uses it as the scorer; both in tmp_path's MLflow store."""
    sentiment = compose_config(
        f"seed={learning_seed}",
        "trainer.max_epochs=1",
        "model.hidden_size=8",
        "model.embedding_dim=8",
        "run_name=scorer",
        "register_model=true",
    )
    scorer_metrics = train(sentiment)
    cfg = compose_config(
        "experiment=generation",
        f"seed={learning_seed}",
        "trainer.max_epochs=2",
        "model.hidden_size=32",
        "model.embedding_dim=16",
        "model.tbptt_steps=20",
        "model.sampling.max_length=60",
        f"model.samples_per_label={SAMPLES_PER_LABEL}",
        "scorer_uri=models:/rnnpipe-sentiment/1",
        "run_name=writer",
        "register_model=true",
    )
    metrics = train(cfg)
    client = MlflowClient(cfg.logger.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("generation").experiment_id])
    return cfg, metrics, client, run, scorer_metrics


@pytest.mark.learning(seed=42)
def test_the_run_records_perplexity_samples_and_how_the_classifier_reads_them(
    generation_run, compose_config, write_reviews
):
    cfg, metrics, client, run, scorer_metrics = generation_run
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "writer"
    params = run.data.params
    assert params["model.tbptt_steps"] == "20"
    assert params["data.level"] == "char"
    assert params["data.layout"] == "stream"
    assert (
        params["trainer.gradient_clip_val"] == "None"
    )  # the module clips: model.gradient_clip_val
    assert params["model.gradient_clip_val"] == "1.0"
    assert run.data.tags["rnnpipe.generation.scorer"] == "models:/rnnpipe-sentiment/1"

    logged = run.data.metrics
    assert len(client.get_metric_history(run.info.run_id, "val/bits_per_char")) == 2
    assert logged["val/bits_per_char"] == pytest.approx(logged["val/loss"] / math.log(2))
    assert logged["val/perplexity"] == pytest.approx(math.exp(logged["val/loss"]), rel=1e-5)
    # learnt something, not everything: untrained it scores 6.2 (about log2 of its 70 characters),
    # after these 2 epochs 3.6-3.9 over 9 seeds
    assert 1.0 < logged["test/bits_per_char"] < 5.0
    assert logged["test/loss"] == pytest.approx(metrics["test/loss"])

    artifacts = artifact_paths(client, run.info.run_id)
    assert {
        "config/config.yaml",
        "tokenizer/tokenizer.json",
        "predictions/generated_reviews.tsv",
        "predictions/test_bits_per_char.tsv",
    } <= artifacts
    assert any(path.startswith("checkpoints/") and path.endswith(".ckpt") for path in artifacts)

    # each test review's bits and characters sum to test/bits_per_char (what rnnpipe-compare reads)
    items = read_items(
        client.download_artifacts(run.info.run_id, "predictions/test_bits_per_char.tsv")
    )
    assert items["line"].is_unique and (items["characters"] >= 2).all()
    form = ITEMS["generation"]
    per_char = form.score(form.statistics(items, run).sum(0, keepdims=True))[0]
    assert per_char == pytest.approx(logged["test/bits_per_char"], rel=1e-5)

    samples = pd.read_csv(
        client.download_artifacts(run.info.run_id, "predictions/generated_reviews.tsv"),
        sep="\t",
        keep_default_na=False,
    )
    assert list(samples.columns) == [
        "sample", "label", "review", "log_probability", "classifier_label",
    ]  # fmt: skip
    assert samples["label"].tolist() == ["negative"] * 4 + ["positive"] * 4
    assert samples["sample"].tolist() == [0, 1, 2, 3] * 2
    assert (samples["review"].str.len() <= 60).all()
    assert set(samples["classifier_label"]) <= {"negative", "positive", ""}
    # the logged fractions are the ones the sample file shows
    for label in ("negative", "positive"):
        mine = samples[samples["label"] == label]
        fraction = (mine["classifier_label"] == label).mean()
        assert logged[f"test/classifier_agreement_{label}"] == pytest.approx(fraction)
    agreement = (samples["classifier_label"] == samples["label"]).mean()
    assert logged["test/classifier_agreement"] == pytest.approx(agreement)
    # on the real test reviews (the same split) the classifier does what its own test found
    assert logged["test/classifier_agreement_real"] == pytest.approx(scorer_metrics["test/acc"])

    [version] = client.search_model_versions("name='rnnpipe-generation'")
    assert version.run_id == run.info.run_id
    registered_model_writes_a_review_for_a_label(cfg, logged, compose_config, write_reviews)


def registered_model_writes_a_review_for_a_label(cfg, logged, compose_config, write_reviews):
    """The pyfunc from the registry, rnnpipe-predict and rnnpipe-evaluate (one training serves
    them all: it is the slow part)."""
    mlflow.set_tracking_uri(cfg.logger.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/rnnpipe-generation/1")
    answer = model.predict(pd.DataFrame({"label": ["positive", "negative"]}))
    assert list(answer.columns) == ["label", "review", "log_probability"]
    assert answer["label"].tolist() == ["positive", "negative"]
    assert all(isinstance(review, str) for review in answer["review"])
    assert model.metadata.signature.inputs.input_names() == ["label"]
    assert answer.equals(model.predict(pd.DataFrame({"label": ["positive", "negative"]})))

    table = predict(
        compose_config(
            "model_uri=models:/rnnpipe-generation/1",
            "texts=[positive,negative]",
            config_name="predict",
        )
    )
    assert table["input"].tolist() == ["positive", "negative"]
    assert table["review"].tolist() == answer["review"].tolist()  # the same seeded sampling

    new_file = write_reviews([("Lovely tacos.", 1), ("Stale bread.", 0)])
    scored = evaluate(
        compose_config(
            "model_uri=models:/rnnpipe-generation/1",
            f"data_path={new_file}",
            "scorer_uri=models:/rnnpipe-sentiment/1",
            config_name="evaluate",
        )
    )
    assert scored["test/bits_per_char"] == pytest.approx(scored["test/loss"] / math.log(2))
    # the same checkpoint and seed write the same samples, which the classifier reads the same way
    assert scored["test/classifier_agreement"] == pytest.approx(logged["test/classifier_agreement"])
