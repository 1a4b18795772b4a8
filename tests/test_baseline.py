"""`rnnpipe-baseline`: an MLflow run like a training run's, a results row, a side of
`rnnpipe-compare`."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from rnnpipe.cli import baseline, results
from rnnpipe.cli import compare as compare_cli

pytestmark = pytest.mark.slow

WORDS = ["food", "service", "place", "staff", "wine", "soup", "bread", "fish", "rice", "beer"]
REVIEWS = [(f"good {word}", 1) for word in WORDS] + [(f"bad {word}", 0) for word in WORDS]
METHOD = "TF-IDF + logistic regression (scikit-learn)"


def test_a_baseline_run_is_a_results_row_and_a_side_of_a_paired_comparison(
    cli, write_reviews, tmp_path, capsys
):
    data = ("experiment=sentiment", f"data.path={write_reviews(REVIEWS)}", "data.val_fraction=0.2",
            "data.test_fraction=0.2", "logger.system_metrics_every_seconds=null")  # fmt: skip
    status, err, _ = cli(baseline.main, *data, "results_row=bag of words", "run_name=strong")
    assert status == 0, err
    status, err, _ = cli(baseline.main, *data, "baselines.sentiment.C=0.001", "run_name=weak")
    assert status == 0, err

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("sentiment").experiment_id
    strong, weak = (client.search_runs([experiment], f"attributes.run_name = '{name}'")[0]
                    for name in ("strong", "weak"))  # fmt: skip
    assert strong.data.tags["rnnpipe.baseline"] == METHOD
    assert strong.data.params["baseline.C"] == "10.0" and "baselines.ner._target_" not in (
        strong.data.params
    )
    assert strong.data.params["data.path"].endswith("reviews.tsv")
    assert {"val/acc", "val/f1", "test/acc", "test/f1"} <= set(strong.data.metrics)

    # an RNN's run of the same label (written by hand here): the baseline's row is beside it
    rnn = client.create_run(experiment, tags={"rnnpipe.results_row": "bag of words"})
    client.set_terminated(rnn.info.run_id, "FINISHED")
    model_row, row = results.rows([client])  # only the runs marked with results_row
    assert model_row[0] == "bag of words"
    assert row[0] == f"bag of words<br>baseline: {METHOD}"
    assert row[2] == "held-out 20% (stratified, seed 42)"
    metrics = strong.data.metrics
    assert row[3] == f"test/acc {metrics['test/acc']:.4f}<br>test/f1 {metrics['test/f1']:.4f}"
    assert row[4].endswith(" s")

    compare_cli.main([strong.info.run_id, weak.info.run_id, "--tracking-uri", uri])
    lines = capsys.readouterr().out.splitlines()
    cells = [cell.strip() for cell in lines[3].split("|")]
    assert lines[0].startswith("test/acc") and cells[3] == f"{metrics['test/acc']:.4f}"
