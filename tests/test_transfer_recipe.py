"""``make transfer-sentiment``, the documented two-step recipe: a word-level language model of
the classifier's own train split, then the classifier started from it."""

from __future__ import annotations

import subprocess

import mlflow
import pytest
from conftest import PROJECT_ROOT, SAMPLE_DATA
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def test_make_transfer_sentiment_starts_the_classifier_from_its_own_language_model(tmp_path):
    arguments = (
        f"data.path={SAMPLE_DATA / 'reviews_sample.tsv'} paths.output_dir={tmp_path} "
        f"paths.tracking_dir={tmp_path} trainer.max_epochs=1 model.hidden_size=16 "
        "model.embedding_dim=8 log_model=false ~callbacks.progress_bar "
        "trainer.enable_progress_bar=false"
    )
    finished = subprocess.run(
        # -o: the installed .venv is taken as it is (no reinstall from inside a test)
        ["make", "-C", str(PROJECT_ROOT), "-o", ".venv/.installed", "transfer-sentiment",
         f"ARGS={arguments}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
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
