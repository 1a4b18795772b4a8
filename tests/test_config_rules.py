"""Config values are checked once, before a run exists: a value out of its type or range is one
line naming the key, the value and what is allowed, and no MLflow store or run is made."""

from __future__ import annotations

import pytest

from rnnpipe.cli import evaluate, train

REFUSED = {
    "trainer.max_epochs=0": "trainer.max_epochs: expected an integer >= 1, got 0",
    "data.batch_size=0": "data.batch_size: expected an integer >= 1, got 0",
    "data.val_fraction=1.5": "data.val_fraction: expected a number > 0 and < 1, got 1.5",
    "seed=abc": "seed: expected an integer >= 0, or null, got 'abc'",
    "model.optimizer.lr=fast": "model.optimizer.lr: expected a number >= 0, got 'fast'",
    "model.dropout=1": "model.dropout: expected a number >= 0 and < 1, got 1",
    "model.nonlinearity=sigmoid": "model.nonlinearity: expected one of tanh, relu, got 'sigmoid'",
    "promote=always": "promote: expected one of auto, null, got 'always'",
    "data.fold=-1": "data.fold: expected an integer >= 0, or null, got -1",
    "trainer.max_epochs=true": "trainer.max_epochs: expected an integer >= 1, got True",
    "model.serving.max_rows=0": "model.serving.max_rows: expected an integer >= 1, got 0",
}


@pytest.mark.parametrize("override", sorted(REFUSED))
def test_a_value_out_of_range_is_one_line_before_any_run(cli, tmp_path, override):
    status, _, errors = cli(train.main, override)
    assert (status, errors) == (1, [f"error: {REFUSED[override]}"])
    assert not (tmp_path / "mlflow.db").exists()


def test_the_translators_decoding_values_are_checked_too(cli, tmp_path):
    status, _, errors = cli(train.main, "experiment=translation", "model.beam_size=0")
    assert errors == ["error: model.beam_size: expected an integer >= 1, got 0"]


def test_evaluate_checks_its_values_before_it_loads_a_model(cli, tmp_path):
    status, _, errors = cli(evaluate.main, "model_uri=nowhere.ckpt", "trainer.max_epochs=-3")
    assert errors == ["error: trainer.max_epochs: expected an integer >= 1, got -3"]
