"""Shared fixtures: Hydra configs composed for real, with every output in a temp dir.

MLflow stores and Hydra outputs never touch the repo's own mlflow.db or outputs/.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from rnnpipe.config import CONFIG_DIR, PROJECT_ROOT
from rnnpipe.training.init_from import build_module, module_config

SAMPLE_DATA = PROJECT_ROOT / "data"
SEED_VARIABLE = "RNNPIPE_TEST_SEED"  # another seed for every learning test (make test-numerics)
THREADS_VARIABLE = "RNNPIPE_TEST_THREADS"  # torch's intra-op threads for the whole session


def pytest_configure(config: pytest.Config) -> None:
    threads = os.environ.get(THREADS_VARIABLE)
    if threads:
        torch.set_num_threads(int(threads))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A learning test names its own seed and trains from ``learning_seed``: otherwise another
    seed (make test-numerics) would not reach it."""
    for item in items:
        marker = item.get_closest_marker("learning")
        if marker is None:
            continue
        if "seed" not in marker.kwargs or "learning_seed" not in getattr(item, "fixturenames", ()):
            raise pytest.UsageError(
                f"{item.nodeid}: a learning test takes @pytest.mark.learning(seed=N) and the "
                "learning_seed fixture"
            )


@pytest.fixture
def learning_seed(request: pytest.FixtureRequest) -> int:
    """The seed of a ``@pytest.mark.learning(seed=N)`` test: its own N, unless the environment's
    RNNPIPE_TEST_SEED gives another. The test trains and generates its data from it."""
    marker = request.node.get_closest_marker("learning")
    if marker is None or "seed" not in marker.kwargs:
        raise pytest.UsageError("learning_seed is for tests marked @pytest.mark.learning(seed=N)")
    chosen = os.environ.get(SEED_VARIABLE)
    return int(chosen) if chosen else int(marker.kwargs["seed"])


def tmp_path_overrides(tmp_path: Path) -> list[str]:
    """Send everything a run writes into ``tmp_path``."""
    return [
        f"paths.output_dir={tmp_path}/outputs",
        f"paths.tracking_dir={tmp_path}",
        f"paths.run_dir={tmp_path}/run",
    ]


def compose_in(tmp_path: Path, *overrides: str, config_name: str = "train") -> DictConfig:
    """The composed ``config_name`` config with every output under ``tmp_path``; HydraConfig is
    set as a real run would have it (reset it with ``HydraConfig.instance().cfg = None``)."""
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            config_name,
            overrides=[*tmp_path_overrides(tmp_path), *overrides],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


@pytest.fixture
def compose_config(tmp_path: Path) -> Iterator[Callable[..., DictConfig]]:
    """``compose_config("experiment=ner", ...)``: :func:`compose_in` for this test's tmp_path."""
    yield functools.partial(compose_in, tmp_path)
    HydraConfig.instance().cfg = None


@pytest.fixture
def write_reviews(tmp_path: Path) -> Callable[..., Path]:
    """Write ``(text, label)`` rows as a Review<TAB>Liked file and return its path."""

    def write(rows: list[tuple[str, int]], name: str = "reviews.tsv") -> Path:
        path = tmp_path / name
        lines = ["Review\tLiked"] + [f"{text}\t{label}" for text, label in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


def composed(*overrides: str, config_name: str = "train") -> DictConfig:
    """The composed config, without Hydra's runtime: enough to build a module or DataModule."""
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name, overrides=list(overrides))


def build_model(experiment: str, *overrides: str, **arguments: Any) -> Any:
    """The task module ``experiment=<experiment>`` trains, its YAML values replaced by
    ``overrides`` (Hydra's) and ``arguments`` (Python values, e.g. the sizes set-up would pass)."""
    model_cfg = composed(f"experiment={experiment}", *overrides).model
    return instantiate(module_config(model_cfg), **arguments)


def built_on_sample(experiment: str, *overrides: str) -> Any:
    """The task module ``experiment=<experiment>`` trains, built from its DataModule set up on the
    experiment's sample data, as rnnpipe-train builds it (untrained)."""
    cfg = composed(f"experiment={experiment}", *overrides)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    return build_module(cfg, datamodule)


def write_checkpoint(module: Any, path: Path) -> Path:
    """``module`` saved as Lightning saves it (weights, hyperparameters, the ``rnnpipe`` entry),
    without a Trainer: checkpoints for tests that need weights, not training."""
    saved = {
        "state_dict": module.state_dict(),
        "hyper_parameters": dict(module.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    module.on_save_checkpoint(saved)
    torch.save(saved, path)
    return path


def build_datamodule(experiment: str, *overrides: str, **arguments: Any) -> Any:
    """The DataModule ``experiment=<experiment>`` trains with, as :func:`build_model`."""
    return instantiate(composed(f"experiment={experiment}", *overrides).data, **arguments)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny trained sentiment model's best checkpoint (no MLflow)."""
    from rnnpipe.cli import train  # here: the whole pipeline, imported only by tests that train

    tmp_path = tmp_path_factory.mktemp("trained")
    cfg = compose_in(tmp_path, "logger=csv", "trainer.max_epochs=1", "model.hidden_size=8")
    train.train(cfg)
    HydraConfig.instance().cfg = None
    [best] = (tmp_path / "run" / "checkpoints").glob("epoch*.ckpt")
    return best


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """``cli(train.main, "data.path=x")`` -> (exit status, stderr, stderr's ``error:`` lines)."""

    def run(entry_point, *overrides: str) -> tuple[int, str, list[str]]:
        monkeypatch.setattr(
            sys,
            "argv",
            [
                "rnnpipe",
                *overrides,
                f"hydra.run.dir={tmp_path}/hydra",
                f"paths.output_dir={tmp_path}/outputs",
                f"paths.tracking_dir={tmp_path}",
            ],
        )
        try:
            entry_point()
            status = 0
        except SystemExit as exit:
            status = exit.code
        captured = capsys.readouterr()
        errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
        return status, captured.err, errors

    return run
