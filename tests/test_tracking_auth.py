"""A team server that is not open: MLflow's own ``--app-name basic-auth`` on 127.0.0.1 refuses
a client without a login, and rnnpipe's runs reach it with MLflow's standard credentials
(``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``) from the environment."""

from __future__ import annotations

import base64
import secrets
import urllib.error

import pytest
from mlflow_servers import mlflow_server, rest

from rnnpipe.cli.train import train
from rnnpipe.errors import RnnpipeError
from rnnpipe.tracking.logger import check_reachable

pytestmark = pytest.mark.slow

PASSWORD = secrets.token_urlsafe(16)  # the admin's, as a real server takes it: from the environment
LOGIN = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """The server with its own user store in a temp dir; the admin's password and the CSRF key
    come from the environment, the config file holds neither."""
    tmp_path = tmp_path_factory.mktemp("auth_server")
    config = tmp_path / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{tmp_path}/auth.db\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 60\n"  # check a password's hash once a minute, not per request
    )
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    with mlflow_server(tmp_path, "--app-name", "basic-auth", env=env) as (url, _):
        yield url


def test_a_client_without_the_right_login_is_refused(auth_server, monkeypatch):
    with pytest.raises(urllib.error.HTTPError) as refused:
        rest(auth_server, "experiments/search?max_results=1")
    assert refused.value.code == 401
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    with pytest.raises(RnnpipeError) as no_login:
        check_reachable(auth_server)
    assert str(no_login.value) == (
        f"MLflow tracking server {auth_server} requires a login (HTTP 401): expected "
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD of one of its users in the "
        "environment; they are missing or wrong"
    )
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    with pytest.raises(RnnpipeError, match="requires a login"):
        check_reachable(auth_server)


def test_a_run_with_credentials_from_the_environment_is_recorded(
    auth_server, compose_config, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    cfg = compose_config(
        "logger=mlflow_server", f"logger.tracking_uri={auth_server}", "trainer.max_epochs=1",
        "model.hidden_size=8", "model.embedding_dim=8", "log_model=false",
        "run_name=behind-a-login",
    )  # fmt: skip
    metrics = train(cfg)

    found = rest(auth_server, "experiments/get-by-name?experiment_name=sentiment", **LOGIN)
    search = {"experiment_ids": [found["experiment"]["experiment_id"]]}
    [run] = rest(auth_server, "runs/search", search, **LOGIN)["runs"]
    assert run["info"]["run_name"] == "behind-a-login"
    assert run["info"]["status"] == "FINISHED"
    logged = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert logged["test/acc"] == pytest.approx(metrics["test/acc"])
    listed = rest(auth_server, f"artifacts/list?run_id={run['info']['run_id']}", **LOGIN)
    assert {"checkpoints", "config"} <= {entry["path"] for entry in listed["files"]}
