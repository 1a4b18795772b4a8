"""`rnnpipe-compare` on real runs in a real store: the paired difference of two trained models,
its MLflow run, and one-line refusals of sides that cannot be paired."""

from __future__ import annotations

import pytest
from hydra.core.hydra_config import HydraConfig
from mlflow import MlflowClient

from rnnpipe.cli import compare as compare_cli
from rnnpipe.cli.train import train

pytestmark = pytest.mark.slow


def test_two_trained_models_are_compared_on_the_same_reviews(compose_config, capsys):
    def trained(*overrides: str) -> tuple[str, float]:
        cfg = compose_config("model.hidden_size=16", "log_model=false", *overrides)
        metrics = train(cfg)
        HydraConfig.instance().cfg = None
        client = MlflowClient(cfg.logger.tracking_uri)
        [run] = client.search_runs(
            [client.get_experiment_by_name("sentiment").experiment_id],
            order_by=["attributes.start_time DESC"], max_results=1,
        )  # fmt: skip
        return run.info.run_id, metrics["test/acc"]

    untrained, untrained_acc = trained("model.optimizer.lr=0", "trainer.max_epochs=1")
    learned, learned_acc = trained("trainer.max_epochs=6", "model.optimizer.lr=0.01", "seed=5")
    other_split, _ = trained("trainer.max_epochs=1", "data.split_seed=3")
    store = ["--tracking-uri", compose_config().logger.tracking_uri]
    capsys.readouterr()

    compare_cli.main([f"runs:/{untrained}", learned, *store])
    table = capsys.readouterr().out.splitlines()
    row = table[3].split("|")
    assert float(row[3]) == pytest.approx(untrained_acc, abs=5e-5)
    assert float(row[5]) == pytest.approx(learned_acc - untrained_acc, abs=5e-5)
    low, high = (float(x) for x in row[6].strip(" []").split(","))
    assert low <= learned_acc - untrained_acc <= high
    client = MlflowClient(store[1])
    [comparison] = client.search_runs([client.get_experiment_by_name("comparisons").experiment_id])
    assert comparison.data.params["a"] == f"runs:/{untrained}"
    assert comparison.data.metrics["difference"] == pytest.approx(learned_acc - untrained_acc)
    assert 0 < comparison.data.metrics["p_value"] <= 1
    assert float(row[7]) == pytest.approx(comparison.data.metrics["p_value"], abs=5e-5)
    assert [a.path for a in client.list_artifacts(comparison.info.run_id, "plots")] == [
        "plots/resampled_differences.png"
    ]

    compare_cli.main([learned, learned, *store])  # a model against itself
    row = capsys.readouterr().out.splitlines()[3].split("|")
    assert float(row[5]) == 0 and float(row[7]) == 1.0

    for a, b, expected in [
        (learned, other_split, "expected two sides scored on the same test set"),
        (learned, "runs:/nope", "runs:/nope: expected a run or a registered model version"),
    ]:
        with pytest.raises(SystemExit):
            compare_cli.main([a, b, *store])
        error = capsys.readouterr().err
        assert error.startswith("error: ") and expected in error and error.count("\n") == 1
