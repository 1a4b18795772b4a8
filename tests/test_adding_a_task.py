"""Adding a task touches one new folder plus its YAML: the example package tests/example_task
(never named in src/) is registered through the same ``rnnpipe.tasks`` entry point as the
built-in tasks, then trained by the real ``train``, reloaded from its checkpoint, and served
through its registered MLflow pyfunc and ``rnnpipe-predict``."""

from __future__ import annotations

import random
import tomllib
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from rnnpipe.cli.predict import predict
from rnnpipe.cli.results import metrics_cell
from rnnpipe.cli.train import train
from rnnpipe.config import PROJECT_ROOT
from rnnpipe.tasks.registry import load_checkpoint, task_specs

EXAMPLE = Path(__file__).parent / "example_task"


@pytest.fixture
def registered(tmp_path, monkeypatch):
    """What ``pip install tests/example_task`` leaves behind: the package importable and a
    distribution whose entry points are those of its pyproject.toml."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    dist_info = tmp_path / "site" / "rnnpipe_last_bit-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = [
        f"{name} = {value}" for name, value in project["entry-points"]["rnnpipe.tasks"].items()
    ]
    (dist_info / "entry_points.txt").write_text("[rnnpipe.tasks]\n" + "\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(EXAMPLE))


def write_bits(path: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    strings = ["".join(rng.choice("01") for _ in range(rng.randint(3, 8))) for _ in range(count)]
    path.write_text("\n".join(strings) + "\n")
    return path


@pytest.mark.learning(seed=0)
def test_a_task_from_outside_src_trains_reloads_and_serves(
    registered, compose_config, tmp_path, learning_seed
):
    assert "last_bit" in task_specs()  # found beside the built-in tasks
    assert {"sentiment", "ner", "translation", "generation"} <= set(task_specs())
    assert "last_bit" not in "".join(
        p.read_text() for p in (PROJECT_ROOT / "src").rglob("*.py")
    )  # no edit to src/

    cfg = compose_config(
        f"hydra.searchpath=[file://{EXAMPLE / 'conf'}]",
        "experiment=last_bit",
        "register_model=true",
        f"seed={learning_seed}",
        f"data.path={write_bits(tmp_path / 'bits.txt', 240, seed=learning_seed)}",
    )
    metrics = train(cfg)
    assert metrics["test/acc"] >= 0.9  # the last bit is the easiest memory there is

    client = MlflowClient(cfg.logger.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("last_bit").experiment_id])
    assert run.data.tags["rnnpipe.task"] == "last_bit"
    assert metrics_cell(run) == f"test/acc {run.data.metrics['test/acc']:.4f}"  # its headline

    checkpoint = load_checkpoint(Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt")
    assert type(checkpoint).__name__ == "LastBitClassifier"
    asked = ["0101", "0110", "1", "1110"]
    direct = checkpoint.predict_texts(asked)
    assert direct["label"].tolist() == ["ends_in_1", "ends_in_0", "ends_in_1", "ends_in_0"]
    with pytest.raises(ValueError, match="bits 1: expected a string of 0 and 1, got '012'"):
        checkpoint.predict_texts(["01", "012"])

    mlflow.set_tracking_uri(cfg.logger.tracking_uri)
    served = mlflow.pyfunc.load_model("models:/rnnpipe-last_bit/1")
    assert served.predict(pd.DataFrame({"bits": asked})).equals(direct)
    table = predict(
        compose_config(
            "model_uri=models:/rnnpipe-last_bit/1",
            "texts=[" + ",".join(f"'{bits}'" for bits in asked) + "]",  # strings, not numbers
            config_name="predict",
        )
    )
    assert table["input"].tolist() == asked
    assert table["label"].tolist() == direct["label"].tolist()
