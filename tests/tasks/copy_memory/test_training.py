"""A GRU learns to copy across a short delay: its test loss ends below the memoryless
baseline's, through a real rnnpipe-train run (delay 10, 3 symbols, data and training from the
seed)."""

from __future__ import annotations

import pytest

from rnnpipe.cli.train import train


@pytest.mark.learning(seed=42)
def test_a_gru_copies_better_than_the_memoryless_baseline(compose_config, learning_seed):
    cfg = compose_config(
        f"seed={learning_seed}",
        "experiment=copy_memory", "model.cell=gru", "model.bptt=autograd", "data.delay=10",
        "data.symbols=3", "data.train_size=4000", "data.val_size=400", "data.test_size=400",
        "model.hidden_size=32", "model.optimizer.lr=0.005", "trainer.max_epochs=10",
    )  # fmt: skip
    metrics = train(cfg)
    assert metrics["test/loss_ratio"] < 0.8
    assert metrics["test/copy_accuracy"] > 0.3  # chance is 1/8
