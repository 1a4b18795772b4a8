"""Request limits: every served task's YAML declares a range for each per-request param around
the model's own setting; a request's params, rows and characters are checked against them, and
each refusal is one line naming what was asked and what is allowed."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import built_on_sample
from mlflow import MlflowClient

from rnnpipe.cli import train
from rnnpipe.tasks.registry import task_specs
from rnnpipe.training.request_limits import RequestLimits

SERVING = {
    "max_rows": 3,
    "max_characters": 20,
    "max_seconds": 5,
    "params": {"beam_size": [1, 10], "length_penalty": [0.0, 2.0]},
}
DEFAULTS = {"beam_size": 5, "length_penalty": 1.0}
LIMITS = RequestLimits.declared(SERVING, DEFAULTS)
PENALTY = "params.length_penalty"


@pytest.mark.parametrize("task", [name for name, spec in task_specs().items() if spec.served])
def test_every_served_task_declares_a_range_for_each_of_its_params(task):
    model = built_on_sample(task)
    limits = model.request_limits
    assert set(limits.params) == set(model.serving_params())
    for name, default in model.serving_params().items():
        low, high = limits.params[name]
        assert low <= default <= high
    assert limits.max_rows > 0 and limits.max_characters > 0 and limits.max_seconds > 0


@pytest.mark.parametrize(
    ("serving", "message"),
    [
        (
            SERVING | {"params": {"beam_size": [1, 10]}},
            "model.serving.params: expected a [lowest, highest] range for each of "
            "['beam_size', 'length_penalty'], got ranges for ['beam_size']",
        ),
        (
            SERVING | {"params": {"beam_size": [1, 4], "length_penalty": [0.0, 2.0]}},
            "model.serving.params.beam_size: expected [lowest, highest] around the model's own "
            "5, got [1, 4]",
        ),
    ],
    ids=["a param without a range", "the default out of its range"],
)
def test_a_serving_config_that_does_not_bound_the_models_params_is_refused(serving, message):
    with pytest.raises(ValueError) as refused:
        RequestLimits.declared(serving, DEFAULTS)
    assert str(refused.value) == message


def test_training_refuses_a_range_without_the_models_own_setting_before_a_run(cli, tmp_path):
    status, _, errors = cli(
        train.main, "experiment=translation", "model.serving.params.beam_size=[1,4]"
    )
    assert (status, errors) == (
        1,
        [
            "error: invalid config: model.serving.params.beam_size: expected [lowest, highest] "
            "around the model's own 5, got [1, 4]"
        ],
    )
    store = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiments = [e.experiment_id for e in store.search_experiments()]
    assert store.search_runs(experiments) == []  # refused before any run


def test_params_in_range_replace_the_models_own_for_the_request():
    assert LIMITS.settings(DEFAULTS, {"beam_size": 10}) == {"beam_size": 10, "length_penalty": 1.0}
    assert LIMITS.settings(DEFAULTS, {"length_penalty": 0}) == {"beam_size": 5, "length_penalty": 0}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"beam_size": 11}, "params.beam_size: expected an integer in [1, 10], got 11"),
        ({"beam_size": 2.5}, "params.beam_size: expected an integer in [1, 10], got 2.5"),
        ({"beam_size": True}, "params.beam_size: expected an integer in [1, 10], got True"),
        ({"length_penalty": -1.0}, f"{PENALTY}: expected a number in [0.0, 2.0], got -1.0"),
        (
            {"beam_size": "9" * 1000},
            f"params.beam_size: expected an integer in [1, 10], got '{'9' * 79}...",
        ),
        (
            {"temperature": 0.5},
            "params: expected only the params this model declares (beam_size, length_penalty), "
            "got 'temperature'",
        ),
    ],
    ids=["over", "not whole", "bool", "under", "long string", "undeclared"],
)  # fmt: skip
def test_a_param_out_of_range_of_another_type_or_undeclared_is_refused_in_one_line(params, message):
    with pytest.raises(ValueError) as refused:
        LIMITS.settings(DEFAULTS, params)
    assert str(refused.value) == message


def test_a_model_without_params_names_none_as_declared():
    limits = RequestLimits.declared(SERVING | {"params": {}}, {})
    with pytest.raises(ValueError, match=r"declares \(none\), got 'beam_size'$"):
        limits.settings({}, {"beam_size": 3})


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"text": ["a"] * 4}),
            "request: expected at most 3 rows (model.serving.max_rows), got 4",
        ),
        (
            pd.DataFrame({"text": ["0123456789", "0123456789x"]}),
            "request: expected at most 20 characters of input (model.serving.max_characters), "
            "got 21",
        ),
        (
            pd.DataFrame({"tokens": [["0123456789", "0123456789"], ["x"]]}),
            "request: expected at most 20 characters of input (model.serving.max_characters), "
            "got 21",
        ),
        (
            pd.DataFrame({"tokens": [list(range(21))]}),
            "request: expected at most 20 characters of input (model.serving.max_characters), "
            "got 21",
        ),
    ],
    ids=["rows", "texts", "token lists", "a list of numbers"],
)
def test_a_request_over_its_rows_or_characters_is_refused(frame, message):
    with pytest.raises(ValueError) as refused:
        LIMITS.check_size(frame, ("text", "tokens"))
    assert str(refused.value) == message


def test_a_request_within_its_rows_and_characters_is_accepted():
    LIMITS.check_size(pd.DataFrame({"text": ["a" * 10, "b" * 10, ""]}), ("text",))
