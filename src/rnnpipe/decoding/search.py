"""Turning a step-by-step decoder into output sequences: greedy search and batched beam search.

Both drive a ``step`` function and know nothing else about the model:

    step(tokens (N,), state) -> (scores (N, V), next state)

``scores`` are logits: P(next token) = softmax(scores) (log-probabilities are logits too).
Greedy search never needs the whole normalised distribution, only its best token and that
token's log-probability, ``best - logsumexp(scores)``; beam search normalises. The searches own
the scores a step returns and may overwrite them: a step returns a fresh tensor.

``tokens`` are the previous outputs (``<s>`` first); ``state`` is a dict of tensors whose first
dimension is the batch row (the decoder's hidden state, the encoder outputs, the source mask,
...). Beam search keeps ``beam_size`` rows per sentence and reorders the state rows as beams are
chosen. Both return, per sentence, hypotheses (:class:`Hypothesis`): the token ids after ``<s>``
up to but not including ``</s>``, with their log-probability and the length-penalised score
beams are ranked by. Every step first checks the request's time limit
(:mod:`rnnpipe.decoding.time_limit`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnpipe.decoding.time_limit import check_time

State = dict[str, Tensor]
StepFunction = Callable[[Tensor, State], tuple[Tensor, State]]


@dataclass(frozen=True)
class Hypothesis:
    """An output sequence: ``log_probability`` is log P(y | x), ``</s>`` included when it was
    emitted; ``score`` is ``log_probability / |y| ** length_penalty``, |y| counting ``</s>``."""

    tokens: list[int]
    log_probability: float
    score: float


def batch_size_of(state: State) -> int:
    return next(iter(state.values())).shape[0]


def select_rows(state: State, rows: Tensor) -> State:
    return {name: value.index_select(0, rows) for name, value in state.items()}


def cut_at_end(sequence: list[int], eos_id: int) -> list[int]:
    return sequence[: sequence.index(eos_id)] if eos_id in sequence else sequence


@torch.no_grad()
def greedy_search(
    step: StepFunction,
    state: State,
    bos_id: int,
    eos_id: int,
    max_length: int,
    length_penalty: float = 1.0,
) -> list[Hypothesis]:
    """The most likely next token at every step, until every sentence has emitted ``</s>``
    (or ``max_length`` tokens); log P sums the chosen tokens' log-probabilities.

    A sentence that has emitted ``</s>`` leaves the batch: later steps run only the sentences
    still going (most end long before the longest, and the output layer is a step's costliest
    part)."""
    batch = batch_size_of(state)
    device = next(iter(state.values())).device
    tokens = torch.full((batch,), bos_id, dtype=torch.long, device=device)
    going = torch.arange(batch, device=device)  # the sentences still in the batch
    log_probability = torch.zeros(batch, device=device)
    length = torch.zeros(batch, dtype=torch.long, device=device)
    sequences = torch.full((batch, max_length), eos_id, dtype=torch.long, device=device)
    for t in range(max_length):
        check_time()
        scores, state = step(tokens, state)
        best, tokens = scores.max(dim=-1)
        # log p(best) = best - logsumexp(scores) = -log sum exp(scores - best), in place: the
        # step's scores are no longer needed, and logsumexp would find the max again
        log_probability[going] -= scores.sub_(best[:, None]).exp_().sum(dim=-1).log_()
        length[going] += 1
        sequences[going, t] = tokens
        still = tokens != eos_id
        if not still.all():
            if not still.any():
                break
            kept = still.nonzero().squeeze(1)
            going, tokens, state = going[kept], tokens[kept], select_rows(state, kept)
    return [
        Hypothesis(cut_at_end(sequence, eos_id), log_p, log_p / n**length_penalty)
        for sequence, log_p, n in zip(
            sequences.tolist(), log_probability.tolist(), length.tolist(), strict=True
        )
    ]


@torch.no_grad()
def beam_search(
    step: StepFunction,
    state: State,
    bos_id: int,
    eos_id: int,
    max_length: int,
    beam_size: int,
    length_penalty: float = 1.0,
    n_best: int = 1,
) -> list[list[Hypothesis]]:
    """Keep the ``beam_size`` best partial translations of every sentence at each step.

    A hypothesis y is ranked by ``log P(y) / |y| ** length_penalty``, |y| counting ``</s>``:
    0 ranks by raw probability (which favours short outputs), 1 by the mean log-probability
    per token. Each step looks at the best ``2 * beam_size`` extensions of all beams: those
    that end with ``</s>`` and rank within the best ``beam_size`` are finished; the best
    ``beam_size`` that do not end go on. A sentence is done when it has ``beam_size`` finished
    hypotheses (its rows keep stepping until the whole batch is done); after ``max_length``
    steps the beams still running count as finished. The ``n_best`` best-ranked finished ones
    are returned, best first (fewer only if fewer than ``n_best`` finite ones exist).
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be in [1, beam_size={beam_size}], got {n_best}")
    batch = batch_size_of(state)
    device = next(iter(state.values())).device
    # Row b * beam_size + k of the state is beam k of sentence b. All beams start as the same
    # <s>; only beam 0 is live (score 0), so the first step does not pick one token k times.
    state = {name: value.repeat_interleave(beam_size, dim=0) for name, value in state.items()}
    tokens = torch.full((batch * beam_size,), bos_id, dtype=torch.long, device=device)
    scores = torch.full((batch, beam_size), float("-inf"), device=device)
    scores[:, 0] = 0.0
    history = torch.empty((batch, beam_size, 0), dtype=torch.long, device=device)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    first_row = torch.arange(batch, device=device)[:, None] * beam_size

    for t in range(max_length):
        check_time()
        scores_t, state = step(tokens, state)
        log_probs = scores_t.log_softmax(dim=-1)
        vocab = log_probs.shape[-1]
        candidates = (scores[:, :, None] + log_probs.view(batch, beam_size, vocab)).view(batch, -1)
        top_scores, top = candidates.topk(min(2 * beam_size, candidates.shape[1]), dim=1)
        beams, words = top // vocab, top % vocab
        ends = words == eos_id

        ending = ends[:, :beam_size] & top_scores[:, :beam_size].isfinite()
        for b, rank in ending.nonzero().tolist():
            if len(finished[b]) < beam_size:
                log_p = top_scores[b, rank].item()
                tokens_so_far = history[b, beams[b, rank]].tolist()
                finished[b].append(
                    Hypothesis(tokens_so_far, log_p, log_p / (t + 1) ** length_penalty)
                )
        if all(len(hypotheses) == beam_size for hypotheses in finished):
            break

        # Candidates that do not end, best first (a stable sort keeps the score order); there
        # are at least beam_size of them, since each beam contributes at most one </s>.
        going_on = ends.to(torch.uint8).argsort(dim=1, stable=True)[:, :beam_size]
        scores = top_scores.gather(1, going_on)
        beams, words = beams.gather(1, going_on), words.gather(1, going_on)
        history = torch.cat(
            (history.gather(1, beams[:, :, None].expand(-1, -1, t)), words[:, :, None]), dim=2
        )
        state = select_rows(state, (first_row + beams).view(-1))
        tokens = words.view(-1)
    else:  # max_length reached: running beams of unfinished sentences count as finished
        for b, hypotheses in enumerate(finished):
            for k in range(beam_size):
                if len(hypotheses) < beam_size and scores[b, k].isfinite():
                    log_p = scores[b, k].item()
                    score = log_p / max_length**length_penalty
                    hypotheses.append(Hypothesis(history[b, k].tolist(), log_p, score))

    ranked = [sorted(hypotheses, key=lambda h: h.score, reverse=True) for hypotheses in finished]
    return [hypotheses[:n_best] for hypotheses in ranked]
