"""``rnnpipe-serve``: a model's JSON scoring server (``make serve-model``), bounded.

    rnnpipe-serve model_uri=models:/rnnpipe-sentiment@champion port=5001

The app is MLflow's own (``mlflow models serve``'s, same requests and answers), behind
:mod:`rnnpipe.serving.bounded_requests`: a cap on the request body and short error bodies.
"""

from __future__ import annotations

import os

import hydra
from omegaconf import DictConfig

from rnnpipe.config import CONFIG_DIR
from rnnpipe.errors import reported_in_one_line
from rnnpipe.tracking.loading import pyfunc_model


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="serve")
def main(cfg: DictConfig) -> None:
    import uvicorn
    from mlflow.pyfunc import scoring_server

    from rnnpipe.serving.bounded_requests import BoundedRequests

    with reported_in_one_line():
        model = pyfunc_model(str(cfg.model_uri), cfg.tracking_uri)
    # read by MLflow's app as it is built: its per-request limit (a 504), and schema errors
    # that do not quote the input
    os.environ["MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"] = str(cfg.timeout_seconds)
    os.environ["MLFLOW_DISABLE_SCHEMA_DETAILS"] = "true"
    app = BoundedRequests(scoring_server.init(model), cfg.max_body_bytes, cfg.max_error_characters)
    uvicorn.run(app, host=cfg.host, port=cfg.port, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
