"""Ensembles at prediction time: several trained models of one task (seeds, say) as one model.

The ensemble is the first member, its scoring methods replaced by their combination over every
member; everything else (decoding, metrics, reports, serving) is the first member's own, so an
ensemble is scored, predicts and serves as a single model does. A task names its scoring methods
and how their outputs combine (:attr:`TaskModule.ensemble_methods`):

    mean              the members' outputs averaged: a classifier's logits, a tagger's emission
                      scores before its CRF or softmax (which are the first member's)
    state_per_member  a search's start state: every member's, in one dict, keys ``<i>/<key>``
    mean_probability  one search step: each member steps from its own state;
                      log p(y) = logsumexp_i log p_i(y) - log n, the mean of the probabilities

All members must be the same task's, with the same fitted preprocessing (a token id must mean
the same token to each).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from rnnpipe.errors import RnnpipeError
from rnnpipe.training.module import TaskModule

State = dict[str, Tensor]


def member_state(state: State, index: int) -> State:
    """Member ``index``'s part of a combined state, its own keys again."""
    prefix = f"{index}/"
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def combined_state(states: Sequence[State]) -> State:
    """Every member's state in one dict of batch-first tensors, which the searches reorder
    together (:func:`rnnpipe.decoding.search.select_rows`)."""
    return {f"{i}/{key}": value for i, state in enumerate(states) for key, value in state.items()}


def mean(methods: Sequence[Callable[..., Tensor]]) -> Callable[..., Tensor]:
    def combined(*args: Any, **kwargs: Any) -> Tensor:
        return torch.stack([method(*args, **kwargs) for method in methods]).mean(0)

    return combined


def state_per_member(methods: Sequence[Callable[..., State]]) -> Callable[..., State]:
    def combined(*args: Any, **kwargs: Any) -> State:
        return combined_state([method(*args, **kwargs) for method in methods])

    return combined


def mean_probability(
    methods: Sequence[Callable[[Tensor, State], tuple[Tensor, State]]],
) -> Callable[[Tensor, State], tuple[Tensor, State]]:
    def combined(tokens: Tensor, state: State) -> tuple[Tensor, State]:
        steps = [method(tokens, member_state(state, i)) for i, method in enumerate(methods)]
        members = [scores.log_softmax(dim=-1) for scores, _ in steps]
        log_probs = torch.stack(members).logsumexp(0)
        return log_probs - math.log(len(methods)), combined_state([s for _, s in steps])

    return combined


COMBINATIONS = {
    "mean": mean,
    "state_per_member": state_per_member,
    "mean_probability": mean_probability,
}


def ensemble(members: Sequence[TaskModule], names: Sequence[str]) -> TaskModule:
    """One model of ``members`` (module docstring); ``names`` say which is which in errors."""
    lead = members[0]
    task = type(lead)
    if not task.ensemble_methods:
        raise RnnpipeError(
            f"{names[0]}: expected a model of a task that ensembles, got a {task.__qualname__}"
        )
    for member, name in zip(members[1:], names[1:], strict=True):
        if type(member) is not task:
            raise RnnpipeError(
                f"{name}: expected a {task.__qualname__} as {names[0]} is, got a "
                f"{type(member).__qualname__}"
            )
        if member.preprocessing.state != lead.preprocessing.state:
            raise RnnpipeError(
                f"{name}: expected the fitted preprocessing (tokenizers, labels) of {names[0]}, "
                "got another"
            )
    originals = {name: [getattr(m, name) for m in members] for name in task.ensemble_methods}
    lead.ensemble_members = nn.ModuleList(members[1:])  # moved and put in eval mode with it
    for name, how in task.ensemble_methods.items():  # an instance's own, in place of its class's
        setattr(lead, name, COMBINATIONS[how](originals[name]))
    return lead
