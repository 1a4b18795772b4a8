"""The MLflow pyfunc model, logged from code: MLflow stores this file, not a pickled object.

It loads the Lightning checkpoint it was logged with (several: an ensemble of them, by artifact
name, :mod:`rnnpipe.training.ensemble`) and hands raw inputs to the task module's
own decoding, so a served model answers plain JSON (``{"dataframe_records": [{"text": ...}]}``),
with per-request ``params`` (``{"params": {"beam_size": 3}}``) in place of the model's own
decoding settings for that request.

A bad input row or param, or a request over the model's limits (its rows, characters, params'
ranges: :mod:`rnnpipe.training.request_limits`), is refused as an
:class:`~mlflow.exceptions.MlflowException` with ``INVALID_PARAMETER_VALUE``: the scoring server
then answers 400 with rnnpipe's message (``row 1 (text): expected a non-empty review, got ''``),
not its generic "unexpected error". A request that outlives its time limit is stopped and
refused with ``DEADLINE_EXCEEDED``, a 504 (:mod:`rnnpipe.decoding.time_limit`).

A param the model's signature does not declare is refused too (:class:`UndeclaredParamsRefused`).
"""

import logging
import re

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import set_model
from mlflow.protos.databricks_pb2 import DEADLINE_EXCEEDED, INVALID_PARAMETER_VALUE

from rnnpipe.decoding.time_limit import TimeLimitError
from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.registry import load_checkpoint
from rnnpipe.training.ensemble import ensemble


class UndeclaredParamsRefused(logging.Filter):
    """MLflow drops the params a model's signature does not declare before the model runs, with
    only a warning (``mlflow.models.utils._enforce_params_schema``), so ``beam_size`` sent to a
    sentiment model got a 200 as if it had not been sent. MLflow has no setting for this; this
    filter on that warning raises the refusal in its place, a 400. It holds in the process that
    loaded an rnnpipe model, for any pyfunc model it serves."""

    DROPPED = ("Unrecognized params", "Ignoring provided params")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not any(warning in message for warning in self.DROPPED):
            return True
        given = re.search(r"params:? \[([^\]]*)\]", message)
        declared = re.search(r"Supported params are: \{([^}]*)\}", message)
        raise MlflowException(
            "params: expected only the params this model declares "
            f"({declared.group(1) if declared else 'none'}), got {given.group(1) if given else ''}",
            error_code=INVALID_PARAMETER_VALUE,
        )


MLFLOW_PARAMS_LOGGER = logging.getLogger("mlflow.models.utils")


class RnnpipeModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        if not any(isinstance(f, UndeclaredParamsRefused) for f in MLFLOW_PARAMS_LOGGER.filters):
            MLFLOW_PARAMS_LOGGER.addFilter(UndeclaredParamsRefused())
        names = sorted(context.artifacts)
        members = [load_checkpoint(context.artifacts[name]) for name in names]
        self.module = members[0] if len(members) == 1 else ensemble(members, names)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            return self.module.predict_frame(model_input, **(params or {}))
        except TimeLimitError as error:
            raise MlflowException(str(error), error_code=DEADLINE_EXCEEDED) from error
        except (ValueError, RnnpipeError) as error:  # what the request asked for, not a bug
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from error


set_model(RnnpipeModel())
