"""`make results`: the README table comes from runs in the MLflow store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mlflow import MlflowClient

from rnnpipe.cli import results
from rnnpipe.cli.train import train

pytestmark = pytest.mark.slow


def test_results_table_lists_marked_runs_and_rewrites_the_readme(compose_config, tmp_path):
    marked = train(
        compose_config("trainer.max_epochs=1", "model.hidden_size=8", "results_row=demo")
    )
    train(compose_config("trainer.max_epochs=1", "model.hidden_size=8", "log_model=false"))
    sectioned = compose_config(
        "trainer.max_epochs=1", "model.hidden_size=8", "log_model=false", "results_row='memory: x'"
    )
    train(sectioned)
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")

    table = results.rows(client, sections=["memory"])
    [row] = table  # the unmarked run is not listed
    label, data, evaluated_on, metrics, minutes, hardware, command, where = row
    assert label == "demo"
    assert metrics == f"test/acc {marked['test/acc']:.4f}<br>test/f1 {marked['test/f1']:.4f}"
    sample = compose_config().data.path
    sha = hashlib.sha256(Path(sample).read_bytes()).hexdigest()[:12]
    assert data == f"`reviews_sample.tsv` (reviews; 321 lines, sha256 {sha})"
    assert evaluated_on == "held-out 15% (stratified, seed 42)"
    assert minutes.endswith(" min") and "cores" in hardware
    experiment = client.get_experiment_by_name("sentiment").experiment_id
    [run] = client.search_runs([experiment], filter_string="tags.`rnnpipe.results_row` = 'demo'")
    assert command == f"`{run.data.tags['rnnpipe.command']}`"
    assert where.startswith("sentiment / ")

    readme = tmp_path / "README.md"
    memory_begin, memory_end = results.markers("memory")
    readme.write_text(
        f"# title\n\n{results.BEGIN}\nold table\n{results.END}\n\nmore text\n\n"
        f"{memory_begin}\nold memory table\n{memory_end}\n"
    )
    store = ["--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", "--readme", str(readme)]
    results.main(store)
    text = readme.read_text()
    assert "old table" not in text and "old memory table" in text  # one table at a time
    assert results.markdown(table) in text  # the memory run is not in the main table
    results.main([*store, "--section", "memory"])
    text = readme.read_text()
    [memory_row] = results.rows(client, "memory", ["memory"])
    assert memory_row[0] == "memory: x"
    assert f"{memory_begin}\n{results.markdown([memory_row])}\n{memory_end}" in text
    assert results.markdown(table) in text and "\nmore text\n" in text
