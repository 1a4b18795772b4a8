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
    """:func:`load_task_module` of one reference; of a list, the ensemble of its models
    (:mod:`rnnpipe.training.ensemble`)."""
    if isinstance(references, str):
        return load_task_module(references, tracking_uri, tracking_key)
    if not references:
        raise RnnpipeError(
            "model_uri: expected a checkpoint, a model URI or a list of them, got []"
        )
    members = [load_task_module(str(r), tracking_uri, tracking_key) for r in references]
    return ensemble(members, [str(r) for r in references])


def load_task_module(
    reference: str, tracking_uri: str | None = None, tracking_key: str = "logger.tracking_uri"
) -> TaskModule:
    """A task module from a checkpoint path or an MLflow model URI (``models:/rnnpipe-ner/1``,
    ``runs:/<run id>/model``, ``models:/rnnpipe-sentiment@champion``), in eval mode.
    ``tracking_key`` is the config key of ``tracking_uri``, for the hint when it is unreachable."""
    if Path(reference).is_file():
        return load_checkpoint(reference)
    if ":/" not in reference:
        found = "a directory" if Path(reference).is_dir() else "neither"
        raise RnnpipeError(
            f"{reference}: expected a checkpoint file or an MLflow model URI "
            f"(models:/<name>/<version>, runs:/<run id>/model), got {found}"
        )
    if tracking_uri:
        check_reachable(tracking_uri, tracking_key)
        mlflow.set_tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=reference, dst_path=tmp))
        except (MlflowException, OSError) as error:
            message = getattr(error, "message", str(error)).splitlines()[0]
            raise RnnpipeError(f"{reference}: expected an MLflow model, got {message}") from None
        # the pyfunc model's checkpoints (several: an ensemble's members); read with this
        # rnnpipe's code, whichever rnnpipe logged the model (it carries a copy for serving)
        checkpoints = sorted((local / "artifacts").glob("*.ckpt"))
        if not checkpoints:
            raise RnnpipeError(
                f"{reference}: expected an rnnpipe model holding a checkpoint, found none"
            )
        members = [load_checkpoint(path) for path in checkpoints]
        return members[0] if len(members) == 1 else ensemble(members, [p.name for p in checkpoints])
