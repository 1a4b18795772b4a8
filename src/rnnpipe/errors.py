"""The errors rnnpipe raises for bad input: each names the file, the line and what was expected."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf.errors import MissingMandatoryValue


class RnnpipeError(Exception):
    """A problem with the user's input or configuration: reported in one line, no traceback."""


class DataFormatError(RnnpipeError, ValueError):
    """A data file that does not follow its format.

    The message reads ``<file>:<line>: expected <what>, got <what was found>`` so an editor or a
    terminal can jump straight to the offending line.
    """

    def __init__(self, path: str | Path, line: int | None, expected: str, found: str | None = None):
        self.path = Path(path)
        self.line = line
        self.expected = expected
        self.found = found
        where = f"{self.path}:{line}" if line is not None else f"{self.path}"
        message = f"{where}: expected {expected}"
        if found is not None:
            message += f", got {found}"
        super().__init__(message)


class InputRowError(RnnpipeError, ValueError):
    """An input row a model cannot predict from, as a request's client needs it told:
    ``row <n> (<column>): expected <what>, got <what was found>``, rows counted from 0 in the
    order they were sent (a DataFrame's positions)."""

    def __init__(self, row: int, column: str, expected: str, found: str):
        super().__init__(f"row {row} ({column}): expected {expected}, got {found}")


EXCERPT_CHARACTERS = 80  # an error quotes at most this much of a request's value


def shown(value: Any) -> str:
    """A request's value as its sender wrote it: a missing one (None, or the NaN pandas and
    MLflow make of it) is ``null``, anything else its repr, cut to its first
    :data:`EXCERPT_CHARACTERS` and ``...``: an error never echoes a whole request back."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing:
        return "null"
    text = repr(value)
    return text if len(text) <= EXCERPT_CHARACTERS else f"{text[:EXCERPT_CHARACTERS]}..."


def require_file(path: str | Path, expected: str = "an existing file") -> Path:
    """``path`` as a Path, or a :class:`DataFormatError` saying what is there instead: a directory
    given for a file is named as one, not reported as missing."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(
            path, None, expected, "a directory" if path.is_dir() else "no such file"
        )
    return path


@contextmanager
def reported_in_one_line() -> Iterator[None]:
    """Turn an :class:`RnnpipeError`, a config value a class refuses (``ValueError`` or
    ``TypeError`` while Hydra instantiates it), or a mandatory config value left ``???``, into
    ``error: <message>`` on stderr and exit 1.

    In a Hydra multirun the error is re-raised instead, so Hydra records the job as failed and
    the sweep's other jobs still run.
    """
    try:
        yield
    except (RnnpipeError, InstantiationException, MissingMandatoryValue) as error:
        cause = error.__cause__
        if isinstance(error, InstantiationException) and not isinstance(
            cause, ValueError | TypeError
        ):
            raise
        print(f"error: {one_line_message(error)}", file=sys.stderr)
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        raise SystemExit(1) from None


def one_line_message(error: RnnpipeError | InstantiationException | MissingMandatoryValue) -> str:
    """What the user reads: the error itself, the value a class refused, or the missing key."""
    if isinstance(error, MissingMandatoryValue):  # a ``???`` in the config, never given
        key = error.full_key
        return f"{key}: expected a value (add {key}=... to the command), got none"
    if isinstance(error, InstantiationException):
        return f"invalid config: {error.__cause__}"
    return str(error)
