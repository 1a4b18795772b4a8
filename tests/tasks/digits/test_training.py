"""A short real training on the sequential digits learns: well above the 10 % of chance."""

from __future__ import annotations

import pytest

from rnnpipe.cli.train import train

pytestmark = pytest.mark.slow


def test_three_epochs_of_the_tanh_rnn_beat_chance_on_the_test_images(compose_config):
    cfg = compose_config(
        "experiment=digits", "logger=csv", "trainer.max_epochs=3", "seed=0", "model.hidden_size=64"
    )
    metrics = train(cfg)
    assert metrics["test/acc"] > 0.2  # chance: 0.1 (36 test images a class)
