"""An IRNN learns the adding problem: T = 20, a fixed seed, 1,200 steps of real training through
rnnpipe-train, and its test MSE ends below half the trivial baseline's."""

from __future__ import annotations

from mlflow import MlflowClient

from rnnpipe.cli.train import train


def test_an_irnn_beats_half_the_trivial_mse_at_twenty_steps(compose_config):
    cfg = compose_config(
        "experiment=adding", "data.steps=20", "data.train_size=3200", "data.val_size=400",
        "data.test_size=400", "model.hidden_size=32", "model.optimizer.lr=0.003",
        "trainer.max_epochs=6",
    )  # fmt: skip
    metrics = train(cfg)
    assert metrics["test/mse_ratio"] < 0.5
    assert metrics["test/mse"] < 0.5 * metrics["test/baseline_mse"]
    assert 0.12 < metrics["test/baseline_mse"] < 0.22  # about 1/6 on 400 examples
    client = MlflowClient(cfg.logger.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("adding").experiment_id])
    assert run.data.params["model.init"] == "identity"
    assert client.search_registered_models() == []  # not a served task: no pyfunc model
