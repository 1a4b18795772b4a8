"""A checkpoint saved before tasks were packages (tests/fixtures/old_layout/sentiment.ckpt, saved
by commit 67d6a20 with `make train model.embedding_dim=4 model.hidden_size=4`) still loads,
predicts and is scored on a new file, but is not served (it has no request limits); one that lacks
a hyperparameter this layout needs fails in one line (hyperparameters a module no longer takes
are ignored by Lightning)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import SAMPLE_DATA

from rnnpipe.cli.evaluate import evaluate
from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.registry import load_checkpoint
from rnnpipe.tasks.sentiment.model import SentimentClassifier

OLD_CHECKPOINT = Path(__file__).parent / "fixtures" / "old_layout" / "sentiment.ckpt"


def test_the_fixture_is_from_the_older_layout():
    saved = torch.load(OLD_CHECKPOINT, weights_only=True)["rnnpipe"]
    assert saved["task"] == "sentiment" and "module" not in saved
    assert saved["data_config"]["_target_"] == "rnnpipe.data.reviews.ReviewsDataModule"


def test_an_older_checkpoint_loads_and_predicts():
    module = load_checkpoint(OLD_CHECKPOINT)
    assert isinstance(module, SentimentClassifier)
    assert module.hparams.hidden_size == 4
    frame = module.predict_texts(["Great pizza!", "Cold soup."])
    assert list(frame.columns) == [
        "label", "probability", "probability_negative", "probability_positive",
    ]  # fmt: skip
    assert set(frame["label"]) <= {"negative", "positive"}
    assert frame["probability"].between(0.5, 1.0).all()


def test_an_older_checkpoint_without_request_limits_is_not_served():
    module = load_checkpoint(OLD_CHECKPOINT)
    with pytest.raises(ValueError) as refused:
        module.predict_frame(pd.DataFrame({"text": ["Great pizza!"]}))
    assert str(refused.value) == (
        "model: expected request limits (model.serving) to serve it, got a checkpoint saved "
        "before them; train it again"
    )


def test_an_older_checkpoint_is_scored_on_a_new_file(compose_config, write_reviews):
    new_file = write_reviews([("Lovely pasta.", 1), ("Rude staff.", 0), ("Fine.", 1)])
    metrics = evaluate(
        compose_config(
            f"model_uri={OLD_CHECKPOINT}", f"data_path={new_file}", config_name="evaluate"
        )
    )
    assert set(metrics) == {"test/acc", "test/f1", "test/loss"}
    assert any(metrics["test/acc"] == pytest.approx(right / 3) for right in range(4))


def test_an_older_checkpoint_this_layout_cannot_build_fails_in_one_line(tmp_path):
    checkpoint = torch.load(OLD_CHECKPOINT, weights_only=True)
    del checkpoint["hyper_parameters"]["pooling"]  # as if saved before pooling existed
    path = tmp_path / "older.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(RnnpipeError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: expected a sentiment checkpoint of this rnnpipe layout")
    assert "older layout" in message and "pooling" in message and "\n" not in message
    assert SAMPLE_DATA.is_dir()  # the fixture needs no data to load
