"""One review of a million tokens in the training file: rnnpipe-train finishes within a memory
limit the test sets (``resource.setrlimit``), the review cut to ``data.max_tokens`` and counted.
(Without the cut, its batch alone needs ~16 GB of hidden states: the run was killed at 21 GB.)"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

from conftest import PROJECT_ROOT, SAMPLE_DATA
from mlflow import MlflowClient

MEMORY_LIMIT = 4 * 2**30  # address space: torch alone reserves ~1.5 GB of it


def capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def test_a_million_token_review_trains_within_a_memory_limit(tmp_path):
    lines = (SAMPLE_DATA / "reviews_sample.tsv").read_text().splitlines()
    lines.insert(5, "tasty " * 1_000_000 + "\t1")
    huge = tmp_path / "huge.tsv"
    huge.write_text("\n".join(lines) + "\n")
    command = [
        sys.executable, "-m", "rnnpipe.cli.train", f"data.path={huge}", "trainer.max_epochs=1",
        "model.hidden_size=8", "model.embedding_dim=8", "log_model=false", "test=false",
        f"paths.output_dir={tmp_path}/outputs", f"paths.tracking_dir={tmp_path}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "tests")}
    finished = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, preexec_fn=capped
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "data.max_tokens=5000: cut 1 of" in finished.stdout + finished.stderr
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    [run] = client.search_runs([client.get_experiment_by_name("sentiment").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["data/truncated"] == 1.0
