"""The README's serve command, exactly as a new user runs it: `make serve-model` after a
registered, promoted training, with a PATH that does not hold the virtual environment. Over
HTTP: JSON predictions with their scores, per-request params, and bad rows named in the 400."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from conftest import compose_in
from hydra.core.hydra_config import HydraConfig
from mlflow_servers import free_port

from rnnpipe.config import PROJECT_ROOT

pytestmark = pytest.mark.slow

# a new user's PATH: this one without the virtual environment (the command must not need it)
NEW_USER_PATH = os.pathsep.join(
    entry
    for entry in os.environ["PATH"].split(os.pathsep)
    if not entry.startswith(str(PROJECT_ROOT / ".venv"))
)


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 180) -> None:
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


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    """A store holding a sentiment and a translation model, each trained for a few steps,
    registered and promoted to @champion as `make train` does."""
    from rnnpipe.cli.train import train  # the whole pipeline, imported only by tests that train

    tmp_path = tmp_path_factory.mktemp("registry")
    for task, sizes in [
        ("sentiment", ["model.hidden_size=8"]),
        ("translation", ["model.hidden_size=16", "model.embedding_dim=16", "model.beam_size=3",
                         "model.max_decode_length=6"]),
    ]:  # fmt: skip
        cfg = compose_in(
            tmp_path, f"experiment={task}", "register_model=true", "promote=auto",
            "trainer.max_epochs=1", *sizes,
        )  # fmt: skip
        train(cfg)
        HydraConfig.instance().cfg = None
    return cfg.logger.tracking_uri


def start_serving(tracking_uri: str, *make_arguments: str) -> tuple[subprocess.Popen, int]:
    """`make serve-model [MODEL=...]` on a free port, in a process group of its own (make,
    mlflow and uvicorn stop together)."""
    port = free_port()
    env = {
        "PATH": NEW_USER_PATH,
        "HOME": os.environ.get("HOME", "/tmp"),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "SERVE_PORT": str(port),
    }
    server = subprocess.Popen(
        ["make", "serve-model", *make_arguments],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return server, port


@pytest.fixture(scope="module")
def servers(tracking_uri) -> Iterator[dict[str, str]]:
    """The documented `make serve-model` (the sentiment champion) and the same command for the
    translation champion, started together; stopped by their PIDs afterwards."""
    started = {
        "sentiment": start_serving(tracking_uri),
        "translation": start_serving(tracking_uri, "MODEL=models:/rnnpipe-translation@champion"),
    }
    try:
        for server, port in started.values():
            wait_until_up(f"http://127.0.0.1:{port}/ping", server)
        yield {task: f"http://127.0.0.1:{port}/invocations" for task, (_, port) in started.items()}
    finally:
        for server, _ in started.values():
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)


def test_the_documented_serve_command_answers_json_and_names_bad_rows(servers):
    url = servers["sentiment"]  # the champion of rnnpipe-sentiment, as documented
    status, answer = post(
        url, {"dataframe_records": [{"text": "Loved the tiramisu!"}, {"text": "Cold soup."}]}
    )
    assert status == 200
    predictions = answer["predictions"]
    assert len(predictions) == 2
    for prediction in predictions:
        assert prediction["label"] in {"negative", "positive"}
        total = prediction["probability_negative"] + prediction["probability_positive"]
        assert total == pytest.approx(1.0)

    status, answer = post(url, {"dataframe_records": [{"text": "Fine."}, {"text": " "}]})
    assert status == 400
    assert "row 1 (text): expected a non-empty review" in answer["message"]


def test_per_request_params_change_the_translations_over_http(servers):
    url = servers["translation"]
    records = [{"text": "A dog runs."}, {"text": "Two men sit on a bench."}]
    status, answer = post(url, {"dataframe_records": records})
    assert status == 200
    assert all("translations" not in p for p in answer["predictions"])  # n_best 1
    status, answer = post(
        url, {"dataframe_records": records, "params": {"beam_size": 3, "n_best": 3}}
    )
    assert status == 200
    assert [len(p["translations"]) for p in answer["predictions"]] == [3, 3]
    assert all(p["log_probability"] < 0 for p in answer["predictions"])

    status, answer = post(url, {"dataframe_records": records, "params": {"n_best": 4}})
    assert status == 400 and "n_best must be in [1, beam_size=3], got 4" in answer["message"]
