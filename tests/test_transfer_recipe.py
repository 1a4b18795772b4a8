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
    for split, real in (("train", "train"), ("val", "val"), ("test", "test_2016_flickr")):
        for language in ("en", "de"):
            with gzip.open(raw / "multi30k" / f"{real}.{language}.gz", "wb") as pairs:
                pairs.write((SAMPLE_DATA / "multi30k_sample" / f"{split}.{language}").read_bytes())
    for split in ("train", "valid", "test"):
        shutil.copy(SAMPLE_DATA / "conll2003_sample" / f"{split}.txt", raw / "conll2003")
    shutil.copy(
        SAMPLE_DATA / "reviews_sample.tsv", raw / "restaurant_reviews" / "Restaurant_Reviews.tsv"
    )


def tiny_run_arguments(tmp_path) -> str:
    return (
        f"paths.data_dir={tmp_path / 'data'} paths.output_dir={tmp_path} "
        f"paths.tracking_dir={tmp_path} trainer.max_epochs=1 model.hidden_size=16 "
        "log_model=false register_model=false promote=null "
        "~callbacks.progress_bar trainer.enable_progress_bar=false"
    )


def transfer_runs(tmp_path, task: str) -> tuple:
    """Step 1's run (in the generation experiment) and step 2's, and step 2's init_from.json."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    [step_1] = client.search_runs([client.get_experiment_by_name("generation").experiment_id])
    [step_2] = client.search_runs([client.get_experiment_by_name(task).experiment_id])
    mlflow.set_tracking_uri(client.tracking_uri)
    report = mlflow.artifacts.load_dict(f"runs:/{step_2.info.run_id}/config/init_from.json")
    return step_1, step_2, report


def test_make_transfer_generation_starts_the_generator_from_a_model_of_the_corpus(tmp_path):
    real_data_layout(tmp_path / "data")
    run_make("transfer-generation", tiny_run_arguments(tmp_path) + " model.samples_per_label=1")
    [corpus_model] = list((tmp_path / "transfer" / "generation_lm").glob("*/checkpoints/last.ckpt"))

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


@pytest.mark.parametrize(
    ("target", "task", "corpus", "embedding", "layer", "embedding_dim"),
    [
        ("transfer-ner", "ner", "conll2003", "embedding.weight", "rnn", 100),
        ("transfer-translation", "translation", "multi30k_en", "source_embedding.weight",
         "encoder", 128),
    ],
)  # fmt: skip
def test_make_transfer_starts_the_tagger_and_the_encoder_from_their_own_text(
    tmp_path, target, task, corpus, embedding, layer, embedding_dim
):
    real_data_layout(tmp_path / "data")
    run_make(target, tiny_run_arguments(tmp_path) + " data.test_path=null test=false")
    step_1, step_2, report = transfer_runs(tmp_path, task)

    # step 1 read only the task's own train text
    params = step_1.data.params
    corpus_files = {k for k in params if k.startswith("data.corpus.") and params[k] != "None"}
    assert corpus_files == {f"data.corpus.{corpus}.path", f"data.corpus.{corpus}.format"}
    [language_model] = list((tmp_path / "transfer" / f"{task}_lm").glob("*/checkpoints/last.ckpt"))
    assert step_2.data.params["model.init_from"] == str(language_model)
    assert 0 < report["by_token"][embedding]["copied"] <= report["by_token"][embedding]["rows"]
    # the first layer takes the word embedding's columns, not the LM's label columns
    assert report["by_column"][f"{layer}.weight_ih_l0"]["copied"] == embedding_dim
    assert f"{layer}.weight_hh_l0" in report["copied"]
    assert f"{layer}.weight_hh_l0_reverse" in report["missing"]  # the LM reads one way
