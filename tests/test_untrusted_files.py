"""A checkpoint or an MLflow model is data: a crafted one whose saved config names a callable
(here ``builtins.open``, which would create a file) is refused in one line by every entry point
that reads one, before anything is built, and the file never appears."""

from __future__ import annotations

import copy
from pathlib import Path

import mlflow
import pytest
import torch

from rnnpipe.cli import average, evaluate, predict, train
from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.registry import read_checkpoint
from rnnpipe.tracking.artifacts import PACKAGE_DIR, PYFUNC_MODEL_FILE

pytestmark = pytest.mark.slow


def opener(path: Path) -> dict:
    """A config that, instantiated, creates ``path``."""
    return {"_target_": "builtins.open", "file": str(path), "mode": "w"}


PLACES = {
    "the run's data config": lambda saved, code: saved["rnnpipe"]["config"]["data"].update(code),
    "the module's optimizer": lambda saved, code: saved["hyper_parameters"]["optimizer"].update(
        code
    ),
    "a scheduler nested in the model config": lambda saved, code: saved["rnnpipe"]["config"][
        "model"
    ].update(scheduler={"_target_": "torch.optim.lr_scheduler.StepLR", "inner": code}),
    "a trainer plugin": lambda saved, code: saved["rnnpipe"]["config"]["trainer"].update(
        plugins=[code]
    ),
    "a name inside torch.optim that is no optimiser": lambda saved, code: saved["hyper_parameters"][
        "optimizer"
    ].update(_target_="torch.optim.lr_scheduler.warnings.warn"),
}


def crafted(checkpoint: Path, tmp_path: Path, place: str) -> tuple[Path, Path]:
    """A copy of a real checkpoint with code planted at ``place``; and the file it would write."""
    victim = tmp_path / "pwned.txt"
    saved = copy.deepcopy(torch.load(checkpoint, weights_only=True))
    PLACES[place](saved, opener(victim))
    path = tmp_path / "crafted.ckpt"
    torch.save(saved, path)
    return path, victim


@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_planted_target_is_refused_wherever_it_sits(checkpoint, tmp_path, place):
    path, victim = crafted(checkpoint, tmp_path, place)
    with pytest.raises(RnnpipeError, match=r"crafted\.ckpt: .*expected a class a task declares"):
        read_checkpoint(path)
    assert not victim.exists()


def test_the_real_checkpoint_is_read(checkpoint):
    assert read_checkpoint(checkpoint)["hyper_parameters"]["optimizer"]["_target_"] == (
        "torch.optim.AdamW"
    )


ENTRY_POINTS = {
    "train's resume": (train.main, lambda p: [f"ckpt_path={p}", "logger=csv"]),
    "evaluate": (evaluate.main, lambda p: [f"model_uri={p}", "logger=csv"]),
    "predict": (predict.main, lambda p: [f"model_uri={p}", "texts=[Lovely pasta.]"]),
    "average": (average.main, lambda p: [f"checkpoints=[{p},{p}]", f"output_path={p}.avg"]),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_refuses_a_crafted_checkpoint_in_one_line(
    checkpoint, tmp_path, cli, entry
):
    path, victim = crafted(checkpoint, tmp_path, "the run's data config")
    main, overrides = ENTRY_POINTS[entry]
    status, _, errors = cli(main, *overrides(path))
    assert status == 1
    [error] = errors
    assert f"{path}: rnnpipe.config.data._target_: expected a class a task declares" in error
    assert not victim.exists()
    assert not Path(f"{path}.avg").exists()


def test_a_pyfunc_model_holding_a_crafted_checkpoint_refuses_to_load(checkpoint, tmp_path):
    path, victim = crafted(checkpoint, tmp_path, "the module's optimizer")
    model_dir = tmp_path / "model"
    mlflow.pyfunc.save_model(
        str(model_dir),
        python_model=str(PYFUNC_MODEL_FILE),
        artifacts={"checkpoint": str(path)},
        code_paths=[str(PACKAGE_DIR)],
    )
    with pytest.raises(RnnpipeError, match="hyper_parameters.optimizer._target_: expected a class"):
        mlflow.pyfunc.load_model(str(model_dir))
    assert not victim.exists()
