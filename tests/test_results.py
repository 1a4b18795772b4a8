"""`make results`: the README table comes from runs in the MLflow store."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from mlflow import MlflowClient
from scipy.stats import t as student_t

from rnnpipe.cli import results
from rnnpipe.cli.train import train
from rnnpipe.tracking.seed_groups import make_group

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
    recorded_elsewhere = f"rnnpipe-train -m seed=1,2 paths.tracking_dir={tmp_path} 'x=a b'"
    assert results.portable(recorded_elsewhere, None) == "rnnpipe-train -m seed=1,2 'x=a b'"


def test_a_group_of_seeds_is_one_row_of_mean_std_and_interval(tmp_path):
    """Runs of one results row grouped by seed: the group's parent is the row, with the
    mean ± std of the headline metrics, n and the 95 % interval, and the mean time a run."""
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment("sentiment")
    accuracies, seconds = [0.70, 0.75, 0.80], [60.0, 120.0, 180.0]
    runs = []
    for seed, (accuracy, fit) in enumerate(zip(accuracies, seconds, strict=True), start=1):
        tags = {"rnnpipe.results_row": "grouped", "rnnpipe.task": "sentiment",
                "rnnpipe.command": f"rnnpipe-train seed={seed}"}  # fmt: skip
        run = client.create_run(experiment, tags=tags)
        for name, value in (("test/acc", accuracy), ("test/f1", accuracy - 0.1)):
            client.log_metric(run.info.run_id, name, value)
        client.log_metric(run.info.run_id, "time/fit_seconds", fit)
        client.set_terminated(run.info.run_id, "FINISHED")
        runs.append(client.get_run(run.info.run_id))
    make_group(client, runs, "model.cell=vanilla", metric=None)

    [row] = results.rows([client])
    label, _, _, metrics, time, _, command, _ = row
    assert label == "grouped<br>group of 3 runs"
    t = student_t.ppf(0.975, 2) * 0.05 / math.sqrt(3)
    assert metrics.split("<br>")[0] == (
        f"test/acc 0.7500 ± 0.0500 (n = 3, 95 % CI [{0.75 - t:.4f}, {0.75 + t:.4f}])"
    )
    assert time == "2.0 min a run"
    assert command == "`rnnpipe-train seed=1`<br>(its first of 3 runs)"


@pytest.mark.parametrize(("folds", "seeds"), [(2, 1), (2, 2)])
def test_a_group_of_every_fold_says_each_review_was_tested(tmp_path, folds, seeds):
    """Two folds, once or with two seeds each: every review is a test review in the group."""
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment("sentiment")
    runs = []
    for fold in range(folds):
        for seed in range(seeds):
            tags = {"rnnpipe.results_row": "cv", "rnnpipe.task": "sentiment"}
            run_id = client.create_run(experiment, tags=tags).info.run_id
            for key, value in (("data.folds", folds), ("data.fold", fold), ("seed", seed),
                               ("data.split_seed", 42)):  # fmt: skip
                client.log_param(run_id, key, value)
            client.log_metric(run_id, "test/acc", 0.5 + fold / 10)
            client.set_terminated(run_id, "FINISHED")
            runs.append(client.get_run(run_id))
    make_group(client, runs, "experiment=sentiment data.folds=2", metric=None)
    [row] = results.rows([client])
    assert row[2] == "all 2 folds (stratified, seed 42): each review tested once"
