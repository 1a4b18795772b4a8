"""The documented two-step transfer recipes: ``make transfer-sentiment`` (a word-level language
model of the classifier's own train split, then the classifier started from it) and ``make
transfer-generation`` (a character model of a text corpus, then the review generator)."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import mlflow
import pytest
from conftest import PROJECT_ROOT, SAMPLE_DATA
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def run_make(target: str, arguments: str) -> None:
    finished = subprocess.run(
        # -o: the installed .venv is taken as it is (no reinstall from inside a test)
        ["make", "-C", str(PROJECT_ROOT), "-o", ".venv/.installed", target, f"ARGS={arguments}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]


def test_make_transfer_sentiment_starts_the_classifier_from_its_own_language_model(tmp_path):
    arguments = (
        f"data.path={SAMPLE_DATA / 'reviews_sample.tsv'} paths.output_dir={tmp_path} "
        f"paths.tracking_dir={tmp_path} trainer.max_epochs=1 model.hidden_size=16 "
        "model.embedding_dim=8 log_model=false ~callbacks.progress_bar "
        "trainer.enable_progress_bar=false"
    )
    run_make("transfer-sentiment", arguments)
    [language_model] = list(
        (tmp_path / "transfer" / "sentiment_lm").glob("*/checkpoints/last.ckpt")
    )

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    [step_1] = client.search_runs([client.get_experiment_by_name("generation").experiment_id])
    [step_2] = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    assert step_1.data.params["data.level"] == "word"
    for key in ("data.split_seed", "data.val_fraction", "data.test_fraction", "data.path"):
        assert step_1.data.params[key] == step_2.data.params[key], key  # the classifier's split
    assert step_2.data.params["model.init_from"] == str(language_model)
    mlflow.set_tracking_uri(client.tracking_uri)
    report = mlflow.artifacts.load_dict(f"runs:/{step_2.info.run_id}/config/init_from.json")
    assert report["copied"] == ["rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"]
    assert report["by_column"] == {"rnn.weight_ih_l0": {"copied": 8, "columns": 8}}
    rows = report["by_token"]["embedding.weight"]
    assert rows["copied"] == rows["rows"]  # the same tokens: every row


def real_data_layout(data_dir):
    """The samples where the real-data recipes look for the real files (data/raw/...)."""
    raw = data_dir / "raw"
    for folder in ("multi30k", "conll2003", "restaurant_reviews"):
        (raw / folder).mkdir(parents=True)
    with gzip.open(raw / "multi30k" / "train.en.gz", "wb") as captions:
        captions.write((SAMPLE_DATA / "multi30k_sample" / "train.en").read_bytes())
    shutil.copy(SAMPLE_DATA / "conll2003_sample" / "train.txt", raw / "conll2003" / "train.txt")
    shutil.copy(
        SAMPLE_DATA / "reviews_sample.tsv", raw / "restaurant_reviews" / "Restaurant_Reviews.tsv"
    )


def test_make_transfer_generation_starts_the_generator_from_a_model_of_the_corpus(tmp_path):
    real_data_layout(tmp_path / "data")
    arguments = (
        f"paths.data_dir={tmp_path / 'data'} paths.output_dir={tmp_path} "
        f"paths.tracking_dir={tmp_path} trainer.max_epochs=1 model.hidden_size=16 "
        "model.samples_per_label=1 log_model=false register_model=false promote=null "
        "~callbacks.progress_bar trainer.enable_progress_bar=false"
    )
    run_make("transfer-generation", arguments)
    [corpus_model] = list((tmp_path / "transfer" / "corpus_lm").glob("*/checkpoints/last.ckpt"))

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("generation").experiment_id
    step_2, step_1 = client.search_runs([experiment], order_by=["attributes.start_time DESC"])
    assert step_1.data.params["data._target_"].endswith("TextCorpusDataModule")
    assert step_1.data.params["data.corpus.conll2003.format"] == "conll"
    assert "data.corpus.multi30k_en.path" in step_1.data.params
    assert step_2.data.params["data.path"].endswith("Restaurant_Reviews.tsv")
    assert step_2.data.params["model.init_from"] == str(corpus_model)
    mlflow.set_tracking_uri(client.tracking_uri)
    report = mlflow.artifacts.load_dict(f"runs:/{step_2.info.run_id}/config/init_from.json")
    assert report["skipped_for_shape"] == {"label_embedding.weight": "(1, 16) -> (2, 16)"}
    assert set(report["by_token"]) == {"embedding.weight", "head.weight", "head.bias"}
    assert "rnn.weight_hh_l1" in report["copied"]  # generation_full's second layer
