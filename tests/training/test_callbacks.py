"""The gradient-through-time diagnostic in a real training run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import build_model
from mlflow import MlflowClient

from rnnpipe.cli.train import train
from rnnpipe.errors import RnnpipeError
from rnnpipe.training.callbacks import GradientThroughTime


@pytest.mark.slow
def test_gradient_through_time_is_plotted_and_its_ratio_logged(compose_config):
    cfg = compose_config(
        "trainer.max_epochs=2", "model.hidden_size=8", "model.embedding_dim=8",
        "callbacks.gradient_through_time.every_n_steps=3", "log_model=false", "model.pooling=last",
    )  # fmt: skip
    train(cfg)
    client = MlflowClient(cfg.logger.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    history = client.get_metric_history(run.info.run_id, "grad/last_to_first_ratio")
    assert [m.step for m in history] == [0, 3, 6, 9, 12]  # 7 steps an epoch, every third
    assert all(m.value > 0 for m in history)  # the loss enters at each review's last step
    plot = client.download_artifacts(run.info.run_id, "plots/grad_norm_through_time.png")
    assert Path(plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_first_recurrent_layer_is_watched_and_a_wrong_one_is_named():
    tagger = build_model(
        "ner", vocab_size=9, char_vocab_size=7, num_casings=8, labels=["O", "S-PER"],
        tag_scheme="BIOES", pad_id=0, unk_id=1, char_pad_id=0,
    )  # fmt: skip
    assert list(tagger.recurrent_layers()) == ["rnn", "char_rnn"]
    watching = GradientThroughTime(every_n_steps=5, rnn=None, output_path="unused.png")
    watching.setup(None, tagger, "fit")
    assert watching.rnn is tagger.rnn  # the sentence's RNN, not the characters'
    callback = GradientThroughTime(every_n_steps=5, rnn="decoder", output_path="unused.png")
    with pytest.raises(
        RnnpipeError, match=r"rnn=decoder: expected one of the recurrent layers of EntityTagger"
    ):
        callback.setup(None, tagger, "fit")
