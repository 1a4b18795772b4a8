"""The README's serve commands, exactly as a new user runs them: its `make serve-model` lines
after a registered, promoted training, with a PATH that does not hold the virtual environment,
and its `curl` lines against them. Over HTTP: JSON predictions with their scores, per-request
params, bad rows named in the 400, and requests over the model's limits refused while the
server goes on answering."""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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


README_SERVING = (
    (PROJECT_ROOT / "README.md")
    .read_text(encoding="utf-8")
    .split("### Registered versions, `@champion` and serving")[1]
    .split("## Sweeps and hyperparameter search")[0]
)
README_PORT = "127.0.0.1:5001"
GOOD = {"dataframe_records": [{"text": "Loved the tiramisu!"}]}


def shell_commands(markdown: str) -> list[str]:
    """The commands of the ```bash blocks in ``markdown``, each as bash reads it: lines ending
    in a backslash, and quotes left open, go on to the next line."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.DOTALL):
        pending = ""
        for line in block.splitlines():
            pending += line + "\n"
            try:
                shlex.split(pending, comments=True)
            except ValueError:  # a quote still open
                continue
            if not line.endswith("\\"):
                commands.append(pending.strip())
                pending = ""
    return commands


def served_task(make_command: str) -> str:
    """The task a README ``make serve-model`` line serves: its MODEL's, the champion of
    sentiment by default."""
    words = shlex.split(make_command, comments=True)
    model = next((w.split("=", 1)[1] for w in words if w.startswith("MODEL=")), "rnnpipe-sentiment")
    return re.search(r"rnnpipe-(\w+)", model).group(1)


def post(url: str, body: dict | bytes) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
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
    """`make serve-model [MODEL=...] [SERVE_TIMEOUT=...]` on a free port, in a process group of
    its own (make, mlflow and uvicorn stop together)."""
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
def started(tracking_uri) -> Iterator[dict[str, tuple[subprocess.Popen, int]]]:
    """The README's `make serve-model` lines for the models the store holds (the sentiment and
    translation champions), each as written but on a free port, started together; stopped by
    their PIDs afterwards."""
    lines = [c for c in shell_commands(README_SERVING) if c.startswith("make serve-model")]
    assert len(lines) == 3  # sentiment, NER (this store holds no NER model), translation
    started = {
        served_task(line): start_serving(tracking_uri, *shlex.split(line, comments=True)[2:])
        for line in lines
        if served_task(line) in ("sentiment", "translation")
    }
    try:
        for server, port in started.values():
            wait_until_up(f"http://127.0.0.1:{port}/ping", server)
        yield started
    finally:
        for server, _ in started.values():
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(started) -> dict[str, str]:
    """Each started server's invocations URL, by task."""
    return {task: f"http://127.0.0.1:{port}/invocations" for task, (_, port) in started.items()}


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


def test_the_readmes_curl_commands_answer_as_written(started):
    """Each `curl` line of the README, against the server its block started (on its port)."""
    task = None
    answered = []
    for command in shell_commands(README_SERVING):
        if command.startswith("make serve-model"):
            task = served_task(command)
        elif command.startswith("curl"):
            _, port = started[task]
            finished = subprocess.run(
                ["bash", "-c", command.replace(README_PORT, f"127.0.0.1:{port}")],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert finished.returncode == 0, finished.stderr
            answered.append((task, json.loads(finished.stdout)["predictions"]))
    [(first, sentiment), (second, translation)] = answered
    assert (first, second) == ("sentiment", "translation")
    assert sentiment[0]["label"] in {"negative", "positive"}
    assert [len(p["translations"]) for p in translation] == [3, 3]  # n_best 3


def serving_command_line(server: subprocess.Popen) -> list[str]:
    """The command line of the rnnpipe-serve process in ``server``'s process group."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            group = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
            words = (proc / "cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError):  # a process that ended meanwhile
            continue
        if group == server.pid and any(w.endswith("rnnpipe-serve") for w in words):
            return words
    raise AssertionError(f"no rnnpipe-serve in process group {server.pid}")


def test_serve_timeout_reaches_the_server(started):
    sentiment, _ = started["sentiment"]  # README: make serve-model
    translation, _ = started["translation"]  # README: make serve-model ... SERVE_TIMEOUT=90
    assert "timeout_seconds=90" in serving_command_line(translation)
    # without it, conf/serve.yaml's 60 s
    assert not any(w.startswith("timeout_seconds") for w in serving_command_line(sentiment))


def test_a_body_over_the_cap_gets_a_413_and_is_never_held(servers):
    url = servers["sentiment"]
    body = json.dumps({"dataframe_records": [{"text": "good food " * 150_000}]}).encode()
    status, answer = post(url, body)  # 1.5 MB against max_body_bytes: 1000000
    assert status == 413
    assert answer["message"] == (
        "request: expected a body of at most 1000000 bytes (max_body_bytes of rnnpipe-serve), "
        "got more"
    )
    assert post(url, GOOD)[0] == 200


def test_a_body_declared_far_over_the_cap_is_refused_before_any_of_it_is_sent(started):
    _, port = started["sentiment"]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("POST", "/invocations")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(10**9))  # a gigabyte announced, none sent
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["message"].startswith(
        "request: expected a body of at most 1000000 bytes"
    )
    connection.close()


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"beam_size": 11}, "params.beam_size: expected an integer in [1, 10], got 11"),
        ({"max_length": 10**6}, "params.max_length: expected an integer in [1, 200], got 1000000"),
        ({"n_best": 0}, "params.n_best: expected an integer in [1, 10], got 0"),
    ],
    ids=["beam_size", "max_length", "n_best"],
)  # fmt: skip
def test_a_param_out_of_its_range_gets_a_400_naming_it_and_the_range(servers, params, reason):
    url = servers["translation"]
    records = [{"text": "A dog runs."}]
    status, answer = post(url, {"dataframe_records": records, "params": params})
    assert status == 400 and answer["message"].endswith(f"Error: {reason}")
    assert post(url, {"dataframe_records": records})[0] == 200  # the server goes on answering


def test_a_param_the_model_does_not_declare_gets_a_400(servers):
    url = servers["sentiment"]  # declares no params (MLflow's own behaviour: drop them, 200)
    status, answer = post(url, GOOD | {"params": {"beam_size": 3}})
    assert status == 400
    assert answer["message"].endswith(
        "Error: params: expected only the params this model declares (none), got 'beam_size'"
    )
    status, answer = post(servers["translation"], {"dataframe_records": [{"text": "A dog."}],
                                                   "params": {"temperature": 0.5}})  # fmt: skip
    assert (
        status == 400
        and "Error: params: expected only the params this model declares (" in (answer["message"])
    )
    assert answer["message"].endswith("), got 'temperature'")
    assert post(url, GOOD)[0] == 200  # the server goes on answering


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        (
            [{"text": "ok"}] * 1001,
            "request: expected at most 1000 rows (model.serving.max_rows), got 1001",
        ),
        (
            [{"text": "good food " * 20_001}],
            "request: expected at most 200000 characters of input "
            "(model.serving.max_characters), got 200010",
        ),
    ],
    ids=["rows", "characters"],
)
def test_a_request_over_the_models_size_gets_a_400_and_the_server_goes_on(servers, records, reason):
    url = servers["sentiment"]
    status, answer = post(url, {"dataframe_records": records})
    assert status == 400 and answer["message"].endswith(f"Error: {reason}")
    # MLflow's prefix quotes the input as pandas prints it: cut, however large the request
    assert len(answer["message"]) < 1000
    assert post(url, GOOD)[0] == 200


def test_an_error_quotes_a_short_excerpt_of_the_input(servers):
    url = servers["sentiment"]
    blank = " " * 10_000
    status, answer = post(url, {"dataframe_records": [{"text": "Fine."}, {"text": blank}]})
    assert status == 400
    assert answer["message"].endswith(
        f"row 1 (text): expected a non-empty review, got '{' ' * 79}..."
    )
    assert len(answer["message"]) < 1000
    assert post(url, GOOD)[0] == 200


def test_a_malformed_body_is_quoted_only_in_part(servers):
    url = servers["sentiment"]
    body = b'{"dataframe_records": [{"text": "' + b"x" * 10_000  # cut off: not JSON
    status, answer = post(url, body)
    # MLflow's own message quotes the whole body; rnnpipe-serve cuts it (max_error_characters)
    assert status == 400 and answer["error_code"] == "BAD_REQUEST"
    assert "x" * 10_000 not in answer["message"]
    assert len(answer["message"]) < 600 and answer["message"].endswith(" characters cut)")
    assert post(url, GOOD)[0] == 200
