"""The logged pyfunc model: per-request params from its signature, scores, and bad rows refused
as MLflow's INVALID_PARAMETER_VALUE with rnnpipe's message (the scoring server's 400). The
request limits saved with the model hold in ``mlflow.pyfunc.load_model(...).predict`` too: params
out of their range and oversized requests are refused, and a request past its time limit is
stopped as DEADLINE_EXCEEDED (the server's 504); a param the signature does not declare is
refused, not dropped."""

from __future__ import annotations

import dataclasses

import mlflow
import pandas as pd
import pytest
from conftest import compose_in
from hydra.core.hydra_config import HydraConfig
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.slow

TEXTS = ["A dog runs.", "Two men sit on a bench."]


@pytest.fixture(scope="module")
def translator(tmp_path_factory):
    """A translator trained one epoch on the bundled sample, loaded from the registry."""
    from rnnpipe.cli.train import train  # the whole pipeline, imported only by tests that train

    tmp_path = tmp_path_factory.mktemp("served")
    cfg = compose_in(
        tmp_path,
        "experiment=translation",
        "register_model=true",
        "trainer.max_epochs=1",
        "model.embedding_dim=16",
        "model.hidden_size=16",
        "model.beam_size=3",
        "model.max_decode_length=8",
    )
    train(cfg)
    HydraConfig.instance().cfg = None
    mlflow.set_tracking_uri(cfg.logger.tracking_uri)
    return mlflow.pyfunc.load_model("models:/rnnpipe-translation/1")


def test_the_signature_declares_the_models_own_decoding_settings(translator):
    schema = translator.metadata.get_params_schema()
    assert {p.name: p.default for p in schema.params} == {
        "beam_size": 3, "n_best": 1, "length_penalty": 1.0, "max_length": 8,
    }  # fmt: skip


def test_params_choose_the_n_best_for_one_request(translator):
    frame = pd.DataFrame({"text": TEXTS})
    two_best = translator.predict(frame, params={"beam_size": 3, "n_best": 2})
    assert len(two_best) == 2
    assert [len(t) for t in two_best["translations"]] == [2, 2]
    for scores, log_ps in zip(two_best["scores"], two_best["log_probabilities"], strict=True):
        assert scores[0] >= scores[1] and all(lp < 0 for lp in log_ps)
    default = translator.predict(frame)
    assert list(default.columns) == ["translation", "log_probability", "score"]
    # the same beam of 3: its best translation is the one the 2-best list starts with
    assert default["translation"].tolist() == [t[0] for t in two_best["translations"]]
    assert default["log_probability"].tolist() == pytest.approx(two_best["log_probability"])


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "expected a non-empty English sentence, got ''"),
        (None, "expected a non-empty English sentence, got null"),
        (3, "expected a non-empty English sentence, got 3"),
        ("dog " * 600, "expected at most 500 tokens (data.max_tokens), got 600 tokens"),
    ],
    ids=["empty", "null", "number", "too long"],
)
def test_a_bad_row_is_refused_by_its_row_and_reason(translator, bad, reason):
    with pytest.raises(MlflowException) as refused:
        translator.predict(pd.DataFrame({"text": [TEXTS[0], bad, ""]}))
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert refused.value.message == f"row 1 (text): {reason}"  # the first bad row, from 0


def test_more_hypotheses_than_the_beam_are_refused(translator):
    with pytest.raises(MlflowException, match=r"n_best must be in \[1, beam_size=2\], got 3"):
        translator.predict(pd.DataFrame({"text": TEXTS}), params={"beam_size": 2, "n_best": 3})


@pytest.mark.parametrize(
    ("params", "expected", "got"),
    [
        ({"beam_size": 11}, "an integer in [1, 10]", "11"),
        ({"max_length": 10**9}, "an integer in [1, 200]", "1000000000"),
        ({"length_penalty": 5.0}, "a number in [0.0, 2.0]", "5.0"),
    ],
)
def test_params_out_of_the_saved_ranges_are_refused(translator, params, expected, got):
    with pytest.raises(MlflowException) as refused:
        translator.predict(pd.DataFrame({"text": TEXTS}), params=params)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    [name] = params
    assert refused.value.message == f"params.{name}: expected {expected}, got {got}"


def test_a_request_of_more_rows_than_the_model_allows_is_refused_before_it_is_read(translator):
    with pytest.raises(MlflowException) as refused:
        translator.predict(pd.DataFrame({"text": [""] * 101}))  # bad rows, never parsed
    assert refused.value.message == (
        "request: expected at most 100 rows (model.serving.max_rows), got 101"
    )


def test_a_request_past_its_time_limit_is_stopped_as_deadline_exceeded(translator, monkeypatch):
    module = translator.unwrap_python_model().module
    limits = dataclasses.replace(module.request_limits, max_seconds=0)
    monkeypatch.setattr(module, "request_limits", limits)
    with pytest.raises(MlflowException) as stopped:
        translator.predict(pd.DataFrame({"text": TEXTS}))
    assert stopped.value.error_code == "DEADLINE_EXCEEDED"
    assert stopped.value.message.startswith("request: expected to finish within 0 s")


def test_a_param_the_signature_does_not_declare_is_refused(translator):
    # MLflow's own params check (mlflow.models.utils._enforce_params_schema) would log and drop
    # it before the model runs: the loaded rnnpipe model refuses it instead
    with pytest.raises(MlflowException) as refused:
        translator.predict(pd.DataFrame({"text": TEXTS}), params={"temperature": 0.5})
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert refused.value.message.startswith("params: expected only the params this model declares")
    assert refused.value.message.endswith("got 'temperature'")
