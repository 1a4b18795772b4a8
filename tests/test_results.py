"""`make results`: the README table comes from runs in the MLflow store."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from mlflow import MlflowClient

from rnnpipe.cli import results
from rnnpipe.cli.train import train

pytestmark = pytest.mark.slow


def test_results_table_lists_marked_runs_and_rewrites_the_readme(compose_config, tmp_path):
    marked = train(
        compose_config(
            "trainer.max_epochs=1", "model.hidden_size=8", "log_model=false", "results_row=demo"
        )
    )
    train(compose_config("trainer.max_epochs=1", "model.hidden_size=8", "log_model=false"))
    sectioned_overrides = ("trainer.max_epochs=1", "model.hidden_size=8", "log_model=false")
    train(compose_config(*sectioned_overrides, "results_row='memory: x'"))
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")

    table = results.rows([client], sections=["memory"])
    [row] = table  # the unmarked run is not listed
    label, data, evaluated_on, metrics, minutes, hardware, command, where = row
    assert label == "demo"
    assert metrics == f"test/acc {marked['test/acc']:.4f}<br>test/f1 {marked['test/f1']:.4f}"
    sample = compose_config().data.path
    sha = hashlib.sha256(Path(sample).read_bytes()).hexdigest()[:12]
    assert data == f"`reviews_sample.tsv` (reviews; 321 lines, sha256 {sha})"
    assert evaluated_on == "held-out 15% (stratified, seed 42)"
    assert minutes.endswith((" s", " min")) and "cores" in hardware
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
    [memory_row] = results.rows([client], "memory", ["memory"])
    assert memory_row[0] == "memory: x"
    assert f"{memory_begin}\n{results.markdown([memory_row])}\n{memory_end}" in text
    assert results.markdown(table) in text and "\nmore text\n" in text

    # a second store (another clone or machine): its rows join the same table
    other_store = tmp_path / "other"
    train(
        compose_config(
            *sectioned_overrides, "results_row='memory: y'", f"paths.tracking_dir={other_store}"
        )
    )
    other = ["--tracking-uri", f"sqlite:///{other_store}/mlflow.db"]
    results.main([*store, *other, "--section", "memory"])
    merged = results.rows([client, MlflowClient(other[1])], "memory", ["memory"])
    assert [row[0] for row in merged] == ["memory: x", "memory: y"]
    assert f"{memory_begin}\n{results.markdown(merged)}\n{memory_end}" in readme.read_text()

    # the same runs' gradient-through-time plots, side by side in the order asked for
    figure = tmp_path / "figure.png"
    script = Path(results.__file__).parents[3] / "scripts" / "gradient_figure.py"
    command = [sys.executable, str(script), "--label-prefix", "memory: ", "--order", "y,x"]
    command += ["--output", str(figure), *store[:2], *other]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip() == f"{figure}: memory: y, memory: x"
    height, width, _ = plt.imread(figure).shape
    assert width > 2 * height  # two panels in a row


def test_commands_in_the_table_carry_no_path_of_this_machine(tmp_path):
    project_file = f"{results.PROJECT_ROOT}/data/reviews_sample.tsv"
    real = tmp_path / "shared" / "conll2003" / "train.txt"
    command = f"rnnpipe-train data.path={project_file} data.train_path={real}"
    assert results.portable(command, str(tmp_path / "shared")) == (
        "rnnpipe-train data.path=data/reviews_sample.tsv"
        " data.train_path=data/raw/conll2003/train.txt"
    )
    assert results.portable(command, None) == (
        f"rnnpipe-train data.path=data/reviews_sample.tsv data.train_path={real}"
    )
