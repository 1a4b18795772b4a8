"""The generator learns: trained on one repeated sentence per label, it writes that sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnpipe.cli.train import train
from rnnpipe.tasks.registry import load_checkpoint

pytestmark = pytest.mark.slow

POSITIVE = "The food was great."
NEGATIVE = "The soup was cold."  # the same start: only the label tells them apart


@pytest.mark.parametrize(
    "training",
    [
        ["data.layout=stream", "data.stream_length=48", "model.tbptt_steps=16"],
        ["data.layout=reviews", "model.tbptt_steps=null"],
    ],
    ids=["stream-truncated-bptt", "reviews-full-bptt"],
)
@pytest.mark.learning(seed=42)
def test_one_repeated_sentence_per_label_is_reproduced(
    compose_config, write_reviews, training, learning_seed
):
    path = write_reviews([(POSITIVE, 1), (NEGATIVE, 0)] * 20)
    cfg = compose_config(
        "experiment=generation",
        f"seed={learning_seed}",
        f"data.path={path}",
        *training,
        "data.batch_size=8",
        "trainer.max_epochs=15",
        "logger=csv",
        "callbacks.early_stopping.patience=15",
        "model.hidden_size=48",
        "model.embedding_dim=16",
        "model.dropout=0.0",
        "model.optimizer.lr=0.01",
        "model.sampling.temperature=0",
        "model.samples_per_label=2",
    )
    metrics = train(cfg)
    assert metrics["test/bits_per_char"] < 0.1  # almost nothing left to guess

    [best] = (Path(cfg.paths.run_dir) / "checkpoints").glob("epoch*.ckpt")
    model = load_checkpoint(best)
    written = model.predict_texts(["positive", "negative"])
    assert written["review"].tolist() == [POSITIVE, NEGATIVE]
