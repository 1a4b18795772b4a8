"""What a finished run leaves in MLflow: its files and the pyfunc model.

* artifacts: ``checkpoints/`` (the best), ``tokenizer/``, and the test reports ``plots/``,
  ``predictions/``, ``metrics/``, with the module's scoring tags;
* a pyfunc ``model`` logged from code (``pyfunc_model.py``, the checkpoint its one artifact),
  registered as ``rnnpipe-<task>``; it takes raw inputs in a DataFrame, and per-request params.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

import mlflow
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.models import infer_signature

from rnnpipe.tasks.spec import TaskSpec
from rnnpipe.training.module import TaskModule

PYFUNC_MODEL_FILE = Path(__file__).with_name("pyfunc_model.py")
PACKAGE_DIR = Path(__file__).parents[1]
SERVING_REQUIREMENTS = (
    "torch",
    "lightning",
    "mlflow",
    "tokenizers",
    "torchmetrics",
    "pandas",
    "hydra-core",
    "matplotlib",
)


def log_outputs(
    logger: MLFlowLogger, module: TaskModule, checkpoint: str | Path | None, reports_dir: Path
) -> None:
    """Best checkpoint, fitted tokenizers, the test reports (plots/, predictions/) and the
    module's scoring tags."""
    client, run_id = logger.experiment, logger.run_id
    for key, value in module.report_tags().items():
        client.set_tag(run_id, key, value)
    if checkpoint:
        client.log_artifact(run_id, str(checkpoint), "checkpoints")
    with tempfile.TemporaryDirectory() as tmp:
        for name, tokenizer_json in module.preprocessing.get("tokenizers", {}).items():
            (Path(tmp) / f"{name}.json").write_text(tokenizer_json)
        client.log_artifacts(run_id, tmp, "tokenizer")
    if reports_dir.is_dir():
        client.log_artifacts(run_id, str(reports_dir))


def log_model(
    logger: MLFlowLogger,
    spec: TaskSpec,
    module: TaskModule,
    checkpoints: Mapping[str, str | Path],
    register: bool = True,
) -> mlflow.models.model.ModelInfo:
    """Log the pyfunc model (from code, with its checkpoints as artifacts: one, or an
    ensemble's members, whose files' names must differ) and register it.

    The model takes raw inputs in a DataFrame, so ``mlflow models serve`` answers plain JSON;
    its signature's params are the module's :meth:`~TaskModule.serving_params`, each defaulting
    to the trained model's own setting.
    """
    example = module.serving_example()
    signature = infer_signature(
        example, module.predict_frame(example), params=module.serving_params()
    )
    mlflow.set_tracking_uri(logger._tracking_uri)
    with mlflow.start_run(run_id=logger.run_id):
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_MODEL_FILE),
            artifacts={name: str(path) for name, path in checkpoints.items()},
            code_paths=[str(PACKAGE_DIR)],
            signature=signature,
            input_example=example,
            pip_requirements=[f"{name}=={version(name)}" for name in SERVING_REQUIREMENTS],
            registered_model_name=spec.registered_model_name if register else None,
        )
