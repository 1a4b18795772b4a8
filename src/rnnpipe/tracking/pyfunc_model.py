"""The MLflow pyfunc model, logged from code: MLflow stores this file, not a pickled object.

It loads the Lightning checkpoint it was logged with and hands raw inputs to the task module's
own decoding, so a served model answers plain JSON (``{"dataframe_records": [{"text": ...}]}``).
"""

import mlflow
import pandas as pd
from mlflow.models import set_model

from rnnpipe.tasks.registry import load_checkpoint


class RnnpipeModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.module = load_checkpoint(context.artifacts["checkpoint"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.module.predict_frame(model_input)


set_model(RnnpipeModel())
