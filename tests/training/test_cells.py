"""Every text task trains with a gated cell (`model.cell=gru|lstm`), on autograd without being
told, and its checkpoint serves; the gradient-through-time plot is drawn for the gated layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnpipe.cli.train import train
from rnnpipe.rnn import GRU, LSTM
from rnnpipe.tasks.registry import load_checkpoint

pytestmark = pytest.mark.slow

CELLS = {"gru": GRU, "lstm": LSTM}
TINY = {
    "sentiment": [],
    "ner": ["model.char_hidden_size=4"],
    "translation": ["model.max_decode_length=4", "model.beam_size=2"],
    "generation": ["model.samples_per_label=1", "model.sampling.max_length=4"],
}
INPUTS = {
    "sentiment": ["Great pizza."],
    "ner": ["John lives in Paris ."],
    "translation": ["a man runs ."],
    "generation": ["positive"],
}


@pytest.mark.parametrize(
    ("task", "cell"),
    [("sentiment", "gru"), ("ner", "lstm"), ("translation", "lstm"), ("generation", "lstm")],
)
def test_a_text_task_trains_and_serves_with_a_gated_cell(compose_config, task, cell):
    cfg = compose_config(
        f"experiment={task}",
        f"model.cell={cell}",
        *TINY[task],
        "model.hidden_size=8",
        "logger=csv",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
        "callbacks.gradient_through_time.every_n_steps=1",
    )
    assert cfg.model.bptt == "autograd"  # the hand-written BPTT is the vanilla RNN's
    metrics = train(cfg)
    assert metrics  # tested after fitting

    [best] = (Path(cfg.paths.run_dir) / "checkpoints").glob("epoch*.ckpt")
    model = load_checkpoint(best)
    layers = model.recurrent_layers()
    assert layers and all(isinstance(layer, CELLS[cell]) for layer in layers.values())
    predictions = model.predict_texts(INPUTS[task])
    assert len(predictions) == 1 and predictions.notna().all(axis=None)
    assert (Path(cfg.paths.run_dir) / "reports/plots/grad_norm_through_time.png").stat().st_size
