"""What one served request may ask of a model: its rows, its characters, its time, and a range for
each per-request param.

The limits are the model config's ``serving:`` section, saved with the model as a hyperparameter,
and :meth:`~rnnpipe.training.module.TaskModule.predict_frame` checks them before it predicts, so
they hold wherever a request reaches the model: ``mlflow models serve``,
``mlflow.pyfunc.load_model(...).predict`` or the module itself. Without them a request could ask
for a beam of 10,000, a million tokens of output, or a body of a million rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rnnpipe.errors import shown


@dataclass(frozen=True)
class RequestLimits:
    max_rows: int  # input rows in one request
    max_characters: int  # input characters in one request, every row and column together
    max_seconds: float  # decoding time of one request (rnnpipe.decoding.time_limit)
    params: Mapping[str, Sequence[float]]  # per-request param -> [lowest, highest] allowed

    @classmethod
    def declared(cls, serving: Mapping[str, Any], defaults: Mapping[str, Any]) -> RequestLimits:
        """The limits of a model config's ``serving`` section, for a model whose per-request
        params take ``defaults``: each must have a range, and its default must lie in it."""
        limits = cls(**serving)  # its sizes are checked with the config (config_rules.py)
        if set(limits.params) != set(defaults):
            raise ValueError(
                f"model.serving.params: expected a [lowest, highest] range for each of "
                f"{sorted(defaults)}, got ranges for {sorted(limits.params)}"
            )
        for name, bounds in limits.params.items():
            if len(bounds) != 2 or not bounds[0] <= defaults[name] <= bounds[1]:
                raise ValueError(
                    f"model.serving.params.{name}: expected [lowest, highest] around the "
                    f"model's own {defaults[name]}, got {list(bounds)}"
                )
        return limits

    def settings(self, defaults: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """``defaults`` with the request's ``params`` in their place, each checked: a param the
        model does not declare, of another type or out of its range is refused in one line."""
        for name, value in params.items():
            if name not in defaults:
                declared = ", ".join(sorted(defaults)) or "none"
                raise ValueError(
                    f"params: expected only the params this model declares ({declared}), "
                    f"got {name!r}"
                )
            low, high = self.params[name]
            integer = isinstance(defaults[name], int)
            types = (int, np.integer) if integer else (int, float, np.number)
            fits = isinstance(value, types) and not isinstance(value, bool)
            if not (fits and low <= value <= high):
                kind = "an integer" if integer else "a number"
                raise ValueError(
                    f"params.{name}: expected {kind} in [{low}, {high}], got {shown(value)}"
                )
        return {**defaults, **params}

    def check_size(self, frame: pd.DataFrame, columns: Sequence[str]) -> None:
        """Refuse a request of more rows or more characters (in ``columns``) than allowed,
        before any of it is tokenised."""
        if len(frame) > self.max_rows:
            raise ValueError(
                f"request: expected at most {self.max_rows} rows (model.serving.max_rows), "
                f"got {len(frame)}"
            )
        present = [column for column in columns if column in frame.columns]
        total = sum(characters(value) for column in present for value in frame[column])
        if total > self.max_characters:
            raise ValueError(
                f"request: expected at most {self.max_characters} characters of input "
                f"(model.serving.max_characters), got {total}"
            )


def characters(value: Any) -> int:
    """The characters of one input: a text's, or the sum of a list of tokens'; anything else
    (a number, a null) counts one, so a list of a million numbers is a million."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple | np.ndarray):
        return sum(characters(item) for item in value)
    return 1
