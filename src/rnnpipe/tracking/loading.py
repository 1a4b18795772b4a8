"""Getting a trained model back: from a checkpoint file or an MLflow model URI; several of
them (or a model logged with several checkpoints) as an ensemble."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from omegaconf import OmegaConf

from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.registry import load_checkpoint
from rnnpipe.tracking.logger import check_reachable
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


def model_of(checkpoints: Sequence[tuple[str, Path]]) -> TaskModule:
    """The model of named checkpoints: one's own, or the ensemble of several."""
    members = [load_checkpoint(path) for _, path in checkpoints]
    return members[0] if len(members) == 1 else ensemble(members, [n for n, _ in checkpoints])


def resolve_checkpoints(
    references: str | Sequence[str],
    directory: Path,
    tracking_uri: str | None = None,
    tracking_key: str = "logger.tracking_uri",
) -> list[tuple[str, Path]]:
    """Every checkpoint the references hold, in order, named by reference (a model of several:
    ``<reference>:<file>``); MLflow models are downloaded into ``directory``."""
    references = [references] if isinstance(references, str) else list(references)
    if not references:
        raise RnnpipeError(
            "model_uri: expected a checkpoint, a model URI or a list of them, got []"
        )
    found = []
    for reference in references:
        files = checkpoint_files(reference, directory, tracking_uri, tracking_key)
        found += [(reference if len(files) == 1 else f"{reference}:{p.name}", p) for p in files]
    return found


def checkpoint_files(
    reference: str,
    directory: Path,
    tracking_uri: str | None = None,
    tracking_key: str = "logger.tracking_uri",
) -> list[Path]:
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
    if tracking_uri:
        check_reachable(tracking_uri, tracking_key)
        mlflow.set_tracking_uri(tracking_uri)
    destination = Path(tempfile.mkdtemp(dir=directory))  # one folder a reference: names may clash
    try:
        local = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=reference, dst_path=str(destination))
        )
    except (MlflowException, OSError) as error:
        message = getattr(error, "message", str(error)).splitlines()[0]
        raise RnnpipeError(f"{reference}: expected an MLflow model, got {message}") from None
    checkpoints = sorted((local / "artifacts").glob("*.ckpt"))
    if not checkpoints:
        raise RnnpipeError(
            f"{reference}: expected an rnnpipe model holding a checkpoint, found none"
        )
    return checkpoints
