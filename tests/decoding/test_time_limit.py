"""A request's time limit stops greedy search, beam search and sampling at their next step, in
the thread that set it only; without one, nothing is ever stopped."""

from __future__ import annotations

import threading

import pytest
import torch

from rnnpipe.decoding.sampling import Sampling, generate
from rnnpipe.decoding.search import beam_search, greedy_search
from rnnpipe.decoding.time_limit import TimeLimitError, check_time, time_limit

BOS, EOS, VOCAB = 0, 1, 5


def never_ending_step(tokens, state):
    """Logits that never choose </s>: only a limit ends a search of these."""
    logits = torch.zeros(len(tokens), VOCAB)
    logits[:, EOS] = -100.0
    logits[:, 2] = 1.0
    return logits, state


def state_of(batch: int) -> dict[str, torch.Tensor]:
    return {"row": torch.arange(batch)}


@pytest.mark.parametrize(
    "decode",
    [
        lambda: greedy_search(never_ending_step, state_of(2), BOS, EOS, max_length=10_000),
        lambda: beam_search(never_ending_step, state_of(2), BOS, EOS, 10_000, 3, 1.0, 1),
        lambda: generate(
            never_ending_step, torch.zeros(2, dtype=torch.long), EOS, Sampling(max_length=10_000)
        ),
    ],
    ids=["greedy", "beam", "sampling"],
)
def test_a_past_deadline_stops_each_decoder_with_the_limit_named(decode):
    with time_limit(0.0), pytest.raises(TimeLimitError) as stopped:
        decode()
    assert str(stopped.value) == (
        "request: expected to finish within 0 s (model.serving.max_seconds), got more: "
        "send fewer rows or a smaller max_length"
    )


def test_without_a_limit_a_search_runs_to_its_max_length():
    [found] = greedy_search(never_ending_step, state_of(1), BOS, EOS, max_length=50)
    assert len(found.tokens) == 50
    check_time()  # no limit set: never raises


def test_a_limit_holds_in_its_own_thread_only():
    outcome = {}

    def other_request():
        outcome["tokens"] = len(
            greedy_search(never_ending_step, state_of(1), BOS, EOS, max_length=20)[0].tokens
        )

    with time_limit(0.0):
        thread = threading.Thread(target=other_request)
        thread.start()
        thread.join()
        with pytest.raises(TimeLimitError):
            check_time()
    assert outcome == {"tokens": 20}
    check_time()  # the block's limit is gone after it
