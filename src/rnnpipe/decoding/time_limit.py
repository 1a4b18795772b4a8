"""A time limit on one request's decoding, checked at every step of a search or a sampling loop.

MLflow's scoring server answers 504 when a request outlives ``--timeout``, but the thread that
decodes it runs on to the end (a thread cannot be stopped from outside), so a long request kept
a core busy after its client had gone and held up the server's shutdown. The loop stops itself
instead: :func:`time_limit` sets the request's deadline, :func:`check_time` ends the loop with a
:class:`TimeLimitError` past it.

The deadline is a context variable: every request (one thread of the server each) has its own,
and a loop with none set (training, tests, ``rnnpipe-evaluate``) is never stopped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from rnnpipe.errors import RnnpipeError

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("deadline", default=None)


class TimeLimitError(RnnpipeError):
    """A request that needed more time than its model allows one."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Decoding within this block stops with a :class:`TimeLimitError` after ``seconds``."""
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def check_time() -> None:
    """Raise :class:`TimeLimitError` if the current request's deadline has passed."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() >= deadline[0]:
        raise TimeLimitError(
            f"request: expected to finish within {deadline[1]:g} s (model.serving.max_seconds), "
            "got more: send fewer rows or a smaller max_length"
        )
