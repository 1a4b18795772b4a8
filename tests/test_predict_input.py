"""Texts reach ``rnnpipe-predict`` whatever quotes they hold: from stdin (``input_path=-``) and
through ``make predict TEXT=...`` (a ``$`` stays a ``$``); a lone string for ``texts`` is
refused, not spelled out; ``make evaluate`` without ``DATA`` scores the model's own test split."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
from conftest import PROJECT_ROOT

from rnnpipe.cli import predict

pytestmark = pytest.mark.slow

QUOTED = 'it\'s "great" for $50 $(shell echo run) \\o/'  # quotes, make's and the shell's $


def test_input_path_dash_reads_one_text_per_line_from_stdin(
    compose_config, checkpoint, monkeypatch
):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{QUOTED}\n\n  \nCold soup, rude waiter.\n"))
    cfg = compose_config(f"model_uri={checkpoint}", "input_path=-", config_name="predict")
    table = predict.predict(cfg)
    assert table["input"].tolist() == [QUOTED, "Cold soup, rude waiter."]
    assert set(table["label"]) <= {"negative", "positive"}


def test_a_string_for_texts_is_refused_naming_the_key(cli, checkpoint):
    status, _, errors = cli(predict.main, f"model_uri={checkpoint}", "texts=tasty")
    assert status == 1
    assert errors == [
        "error: texts=tasty: expected a list, e.g. 'texts=[\"Great pizza!\"]' "
        "(or input_path=- to read one text per line from stdin), got a string"
    ]


def make(*arguments: str) -> str:
    """``make <arguments>`` in the project, as a user types it; its output (it must succeed).
    ``-o``: the installed .venv is taken as it is (no reinstall from inside a test)."""
    finished = subprocess.run(
        ["make", "-C", str(PROJECT_ROOT), "-o", ".venv/.installed", *arguments],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    return finished.stdout


def test_make_predict_passes_any_text_as_typed(checkpoint):
    printed = make("predict", f"MODEL={checkpoint}", f"TEXT={QUOTED}")
    [row] = [line for line in printed.splitlines() if QUOTED in line]
    # columns: input label probability probability_negative probability_positive
    assert row.strip().startswith(QUOTED)
    label, probability, *per_class = row.strip()[len(QUOTED) :].split()
    assert label in {"negative", "positive"} and 0.5 <= float(probability) <= 1.0
    assert sum(map(float, per_class)) == pytest.approx(1.0, abs=1e-5)


def test_make_evaluate_without_data_scores_the_models_own_test_split(checkpoint, tmp_path):
    store = f"paths.output_dir={tmp_path}/outputs paths.tracking_dir={tmp_path}"
    printed = make("evaluate", f"MODEL={checkpoint}", f"ARGS={store}")
    assert "data_path=" not in printed.splitlines()[0]
    accuracy = float(re.search(r"test/acc\s+([0-9.]+)", printed).group(1))
    assert 0.0 <= accuracy <= 1.0
