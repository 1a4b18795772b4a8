"""Training against a real ``mlflow server`` on 127.0.0.1: the happy path read back over the
REST API, a server that is not there at start, and a server that dies mid-run."""

from __future__ import annotations

import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT
from mlflow_servers import free_port, rest
from mlflow_servers import mlflow_server as running_mlflow_server

from rnnpipe.cli.train import train
from rnnpipe.errors import RnnpipeError
from rnnpipe.tracking.logger import check_reachable

pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_server(tmp_path):
    """A real tracking server in tmp_path: ``(url, process)``."""
    with running_mlflow_server(tmp_path) as server:
        yield server


def test_training_against_a_server_is_readable_over_rest(compose_config, mlflow_server, tmp_path):
    url, _ = mlflow_server
    cfg = compose_config(
        "logger=mlflow_server", f"logger.tracking_uri={url}", "trainer.max_epochs=2",
        "model.hidden_size=8", "model.embedding_dim=8", "register_model=true",
    )  # fmt: skip
    metrics = train(cfg)

    experiment = rest(url, "experiments/get-by-name?experiment_name=sentiment")["experiment"]
    [run] = rest(url, "runs/search", {"experiment_ids": [experiment["experiment_id"]]})["runs"]
    assert run["info"]["status"] == "FINISHED"
    logged = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert logged["test/acc"] == pytest.approx(metrics["test/acc"])
    assert {"train/loss", "val/loss", "val/f1", "test/f1"} <= logged.keys()
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params["model.hidden_size"] == "8"
    assert params["logger.tracking_uri"] == url

    run_id = run["info"]["run_id"]
    listed = rest(url, f"artifacts/list?run_id={run_id}")
    assert {"checkpoints", "config", "plots", "predictions", "tokenizer"} <= {
        f["path"] for f in listed["files"]
    }
    # artifacts went through the server, into its artifact store
    assert list((tmp_path / "server-artifacts").rglob("confusion_matrix.png"))
    model = rest(url, "registered-models/get?name=rnnpipe-sentiment")["registered_model"]
    assert model["latest_versions"][0]["run_id"] == run_id
    assert not (tmp_path / "mlflow.db").exists()  # nothing went to the embedded store


def rnnpipe_train(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "rnnpipe.cli.train", "trainer.max_epochs=2", "model.hidden_size=8",
        "model.embedding_dim=8", "data.batch_size=16",
        f"paths.output_dir={tmp_path}/outputs", f"paths.tracking_dir={tmp_path}", *overrides,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "tests")}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_unreachable_server_at_start_is_a_clear_error_naming_the_uri(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    finished = rnnpipe_train(tmp_path, f"logger.tracking_uri={url}")
    assert finished.returncode == 1
    [error_line] = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    assert error_line.startswith(f"error: MLflow tracking server {url} is unreachable")
    assert "Traceback" not in finished.stderr
    assert not list((tmp_path / "outputs").rglob("*.ckpt"))  # it stopped before training


def test_server_dying_mid_run_leaves_training_and_checkpoints_intact(mlflow_server, tmp_path):
    url, server = mlflow_server
    pid_file = tmp_path / "server.pid"
    pid_file.write_text(str(server.pid))
    finished = rnnpipe_train(
        tmp_path,
        f"logger.tracking_uri={url}",
        "+callbacks.stop_server._target_=fault_injection.StopServerAtStep",
        "+callbacks.stop_server.step=3",
        f"+callbacks.stop_server.pid_file={pid_file}",
    )
    assert server.wait(timeout=10) == -signal.SIGKILL
    assert finished.returncode == 0, finished.stderr[-3000:]
    output = finished.stdout + finished.stderr
    assert f"MLflow at {url} failed" in output
    assert "not recorded in MLflow" in finished.stdout
    # training went all the way: both epochs' checkpoints and the test metrics are there
    checkpoints = {p.name for p in (tmp_path / "outputs").rglob("*.ckpt")}
    assert "last.ckpt" in checkpoints
    assert any(name.startswith("epoch") for name in checkpoints)
    assert "test/acc" in finished.stdout


def test_a_web_server_that_is_not_mlflow_is_named_as_such(tmp_path):
    web = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        functools.partial(http.server.SimpleHTTPRequestHandler, directory=tmp_path),
    )
    threading.Thread(target=web.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{web.server_port}"
    try:
        with pytest.raises(RnnpipeError) as refused:
            check_reachable(url)
    finally:
        web.shutdown()
    assert str(refused.value) == (
        f"MLflow tracking server {url} answered HTTP 404 (File not found); "
        "is logger.tracking_uri an MLflow server?"
    )
