"""Real ``mlflow server`` processes on 127.0.0.1 for tests, each in its own process group."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest


def rest(server: str, endpoint: str, payload: dict | None = None, **headers: str) -> dict:
    """GET (or POST ``payload``) one MLflow REST endpoint and decode its JSON answer."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        f"{server}/api/2.0/mlflow/{endpoint}",
        data=data,
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def mlflow_server(
    tmp_path: Path, *arguments: str, env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """A tracking server with a SQLite store and proxied artifacts in ``tmp_path``, in its own
    process group (so it can be killed with its workers); yields ``(url, process)``."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server", *arguments,
            "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
            "--artifacts-destination", str(tmp_path / "server-artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the MLflow server did not start")
            time.sleep(0.5)
    try:
        yield url, server
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
