"""The README's serve command, exactly as a new user runs it: `make serve-model` after a
registered, promoted training, with a PATH that does not hold the virtual environment."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from hydra.core.hydra_config import HydraConfig

from rnnpipe.cli.train import train
from rnnpipe.config import PROJECT_ROOT

pytestmark = pytest.mark.slow

# a new user's PATH: this one without the virtual environment (the command must not need it)
NEW_USER_PATH = os.pathsep.join(
    entry
    for entry in os.environ["PATH"].split(os.pathsep)
    if not entry.startswith(str(PROJECT_ROOT / ".venv"))
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read()[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture
def served_champion(compose_config):
    """`make serve-model` (the champion by default) on a free port, over a tmp store holding
    one trained, registered and promoted sentiment model; stopped by its PID afterwards."""
    cfg = compose_config(
        "register_model=true", "promote=auto", "model.hidden_size=8", "trainer.max_epochs=1"
    )
    train(cfg)
    HydraConfig.instance().cfg = None
    port = free_port()
    env = {
        "PATH": NEW_USER_PATH,
        "HOME": os.environ.get("HOME", "/tmp"),
        "MLFLOW_TRACKING_URI": cfg.logger.tracking_uri,
        "SERVE_PORT": str(port),
    }
    server = subprocess.Popen(
        ["make", "serve-model"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: make, mlflow and uvicorn stop together
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", server)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def test_the_documented_serve_command_answers_json(served_champion):
    status, answer = post(
        served_champion,
        {"dataframe_records": [{"text": "Loved the tiramisu!"}, {"text": "Cold soup."}]},
    )
    assert status == 200
    predictions = answer["predictions"]
    assert len(predictions) == 2
    assert {p["label"] for p in predictions} <= {"negative", "positive"}
