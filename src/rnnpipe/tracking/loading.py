"""Getting a trained model back: from a checkpoint file or an MLflow model URI; several of
them (a model logged with several checkpoints, or a seed group's parent run) as an ensemble."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from omegaconf import OmegaConf

from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.registry import load_checkpoint
from rnnpipe.tracking.logger import check_reachable
from rnnpipe.tracking.seed_groups import group_members, is_group
from rnnpipe.training.ensemble import ensemble
from rnnpipe.training.module import TaskModule


def model_references(model_uri: Any) -> str | list[str]:
    """A ``model_uri`` config value: one reference, or a list of them (an ensemble)."""
    if OmegaConf.is_list(model_uri) or isinstance(model_uri, list):
        return [str(reference) for reference in model_uri]
    return str(model_uri)


def load_models(
    references: str | Sequence[str],
    tracking_uri: str | None = None,
    tracking_key: str = "logger.tracking_uri",
) -> TaskModule:
    """A task module, in eval mode, from a checkpoint path or an MLflow model URI
    (``models:/rnnpipe-ner/1``, ``runs:/<run id>/model``, ``models:/rnnpipe-sentiment@champion``);
    from a list of them, the ensemble of their models (:mod:`rnnpipe.training.ensemble`).
    ``tracking_key`` is the config key of ``tracking_uri``, for the hint when it is unreachable."""
    with tempfile.TemporaryDirectory() as tmp:
        return model_of(resolve_checkpoints(references, Path(tmp), tracking_uri, tracking_key))


def pyfunc_model(model_uri: str, tracking_uri: str) -> mlflow.pyfunc.PyFuncModel:
    """The MLflow pyfunc model ``model_uri`` names (looked up in ``tracking_uri``), as
    ``mlflow models serve`` loads it; one it cannot load is one line."""
    if ":/" in model_uri:
        read_from(tracking_uri, "tracking_uri")
    try:
        return mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as error:
        raise RnnpipeError(
            f"model_uri={model_uri}: expected an MLflow model, got {first_line(error)}"
        ) from None


def read_from(tracking_uri: str, key: str) -> None:
    """Look models up in ``tracking_uri`` (``key``: the config key that sets it), once it
    answers; a store that only reads is enough."""
    check_reachable(tracking_uri, key, writing=False)
    mlflow.set_tracking_uri(tracking_uri)


def first_line(error: MlflowException | OSError) -> str:
    """What MLflow said went wrong, without its multi-line detail."""
    return getattr(error, "message", str(error)).splitlines()[0]


def model_of(checkpoints: Sequence[tuple[str, Path]]) -> TaskModule:
    """The model of named checkpoints: one's own, or the ensemble of several."""
    members = [load_checkpoint(path) for _, path in checkpoints]
    return members[0] if len(members) == 1 else ensemble(members, [n for n, _ in checkpoints])


def resolve_checkpoints(
    references: str | Sequence[str],
    directory: Path,
    tracking_uri: str | None = None,
    tracking_key: str = "logger.tracking_uri",
    fold: int | None = None,
) -> list[tuple[str, Path]]:
    """Every checkpoint the references hold, in order, named by reference (a model of several:
    ``<reference>:<file>``); MLflow models are downloaded into ``directory``. A group's parent
    run (``runs:/<id>``) stands for its runs' models (:func:`group_references`)."""
    references = [references] if isinstance(references, str) else list(references)
    if not references:
        raise RnnpipeError(
            "model_uri: expected a checkpoint, a model URI or a list of them, got []"
        )
    if tracking_uri and any(":/" in reference for reference in references):
        read_from(tracking_uri, tracking_key)
    references = [member for r in references for member in group_references(r, fold)]
    found = []
    for reference in references:
        files = checkpoint_files(reference, directory)
        found += [(reference if len(files) == 1 else f"{reference}:{p.name}", p) for p in files]
    return found


def group_references(reference: str, fold: int | None = None) -> list[str]:
    """``runs:/<id>`` of a seed group's parent run: the models of its runs, in seed order, so
    the group is their ensemble; of a cross-validation group, those of ``fold``'s runs (its
    seeds), which share that fold's fitted vocabulary. Any other reference: itself."""
    parent = group_parent(reference)
    runs = group_runs(parent) if parent else []
    folds = sorted({int(run.data.params["data.fold"]) for run in runs
                    if run.data.params.get("data.fold", "None") != "None"})  # fmt: skip
    if fold is not None and not folds:
        raise RnnpipeError(
            f"fold={fold}: expected a cross-validation group's parent run (runs:/<id>) as "
            f"model_uri, got {reference}"
        )
    if parent is None:
        return [reference]
    if not folds:
        return [f"runs:/{run.info.run_id}/model" for run in runs]
    if fold is None:
        raise RnnpipeError(
            f"{reference}: a cross-validation group (folds {folds[0]}..{folds[-1]}): expected "
            "fold=<k>, for the ensemble of that fold's runs"
        )
    members = [run for run in runs if run.data.params["data.fold"] == str(fold)]
    if not members:
        raise RnnpipeError(f"fold={fold}: expected one of {reference}'s folds {folds}")
    return [f"runs:/{run.info.run_id}/model" for run in members]


def group_parent(reference: str) -> Run | None:
    """The group's parent run that ``runs:/<id>`` names (no artifact path), else None."""
    run_id = reference.removeprefix("runs:/")
    if reference == run_id or "/" in run_id:
        return None
    try:
        run = MlflowClient().get_run(run_id)
    except MlflowException:
        return None  # not a run: checkpoint_files says what was expected
    return run if is_group(run) else None


def group_runs(parent: Run) -> list[Run]:
    """A group's runs in seed order."""
    members = group_members(MlflowClient(), parent)
    return sorted(members, key=lambda run: int(run.data.params.get("seed", 0)))


def checkpoint_files(reference: str, directory: Path) -> list[Path]:
    """The checkpoint a reference is, or those its MLflow model holds (several: an ensemble's
    members), downloaded into ``directory``; read with this rnnpipe's code, whichever rnnpipe
    logged the model (it carries a copy for serving)."""
    if Path(reference).is_file():
        return [Path(reference)]
    if ":/" not in reference:
        found = "a directory" if Path(reference).is_dir() else "neither"
        raise RnnpipeError(
            f"{reference}: expected a checkpoint file or an MLflow model URI "
            f"(models:/<name>/<version>, runs:/<run id>/model), got {found}"
        )
    destination = Path(tempfile.mkdtemp(dir=directory))  # one folder a reference: names may clash
    try:
        local = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=reference, dst_path=str(destination))
        )
    except (MlflowException, OSError) as error:
        raise RnnpipeError(
            f"{reference}: expected an MLflow model, got {first_line(error)}"
        ) from None
    checkpoints = sorted((local / "artifacts").glob("*.ckpt"))
    if not checkpoints:
        raise RnnpipeError(
            f"{reference}: expected an rnnpipe model holding a checkpoint, found none"
        )
    return checkpoints
