"""Getting a trained model back: from a checkpoint file or an MLflow model URI."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.registry import load_checkpoint
from rnnpipe.tracking.logger import check_reachable
from rnnpipe.training.module import TaskModule


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
        # the pyfunc model's one artifact; read with this rnnpipe's code, whichever rnnpipe
        # logged the model (it carries a copy of its own for serving)
        checkpoints = sorted((local / "artifacts").glob("*.ckpt"))
        if len(checkpoints) != 1:
            raise RnnpipeError(
                f"{reference}: expected an rnnpipe model holding one checkpoint, "
                f"found {len(checkpoints)}"
            )
        return load_checkpoint(checkpoints[0])
