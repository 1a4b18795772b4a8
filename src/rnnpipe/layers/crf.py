r"""A linear-chain conditional random field over tag sequences, written out by hand.

For emissions :math:`e_t(y)` (the tagger's per-token scores) and a tag sequence
:math:`y_1 \dots y_n`, the score of the whole sequence is

.. math::
    s(y) = \pi_{y_1} + \sum_{t=1}^{n} e_t(y_t) + \sum_{t=2}^{n} A_{y_{t-1}, y_t} + \omega_{y_n}

with learned start scores :math:`\pi`, transition scores :math:`A` and end scores
:math:`\omega`, and :math:`p(y \mid x) = \exp s(y) / Z`. Training minimises
:math:`-\log p(y \mid x) = \log Z - s(y)`; :math:`\log Z` comes from the forward algorithm

.. math::
    \alpha_1(j) = \pi_j + e_1(j), \quad
    \alpha_t(j) = e_t(j) + \log \sum_i \exp(\alpha_{t-1}(i) + A_{ij}), \quad
    \log Z = \log \sum_j \exp(\alpha_n(j) + \omega_j)

and decoding is Viterbi: the same recursion with max in place of log-sum-exp, then following
the back-pointers from the best last tag. The backward algorithm runs the other way,

.. math::
    \beta_n(i) = \omega_i, \quad
    \beta_t(i) = \log \sum_j \exp(A_{ij} + e_{t+1}(j) + \beta_{t+1}(j)),

and with it each token's marginal :math:`p(y_t = j \mid x) = \exp(\alpha_t(j) + \beta_t(j) -
\log Z)`: how sure the model is of each tag, summed over every sequence that passes through it.

Transitions the tag scheme forbids (``I-X`` after ``O`` in IOB2) are fixed at :math:`-\infty`
in :math:`\pi`, :math:`A` and :math:`\omega`: such a path has probability 0 in training and is
never decoded.

Shapes: emissions ``(B, T, C)``, tags ``(B, T)``, mask ``(B, T)`` bool, true on each sentence's
own tokens (a prefix of every row, at least one token long).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LinearChainCRF(nn.Module):
    """Learned start/transition/end scores with scheme constraints; loss and Viterbi decoding.

    Args:
        allowed: ``(C, C)`` bool, ``allowed[i, j]``: tag j may follow tag i.
        allowed_start: ``(C,)`` bool, tags a sentence may begin with.
        allowed_end: ``(C,)`` bool, tags a sentence may end with.
    """

    def __init__(self, allowed: Tensor, allowed_start: Tensor, allowed_end: Tensor):
        super().__init__()
        num_tags = allowed.shape[0]
        if allowed.shape != (num_tags, num_tags) or allowed_start.shape != (num_tags,):
            raise ValueError(
                f"allowed must be (C, C) and allowed_start/allowed_end (C,), got "
                f"{tuple(allowed.shape)}, {tuple(allowed_start.shape)}, {tuple(allowed_end.shape)}"
            )
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        self.register_buffer("allowed", allowed.bool())
        self.register_buffer("allowed_start", allowed_start.bool())
        self.register_buffer("allowed_end", allowed_end.bool())

    def constrained_scores(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(start (C,), transitions (C, C), end (C,))`` with forbidden moves at -inf."""
        forbidden = float("-inf")
        return (
            self.start.masked_fill(~self.allowed_start, forbidden),
            self.transitions.masked_fill(~self.allowed, forbidden),
            self.end.masked_fill(~self.allowed_end, forbidden),
        )

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Negative log-likelihood of each sentence's gold ``tags``: ``(B,)``."""
        return self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)

    def path_score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """:math:`s(y)` of the given tag sequences: ``(B,)``."""
        start, transitions, end = self.constrained_scores()
        emitted = emissions.gather(-1, tags.unsqueeze(-1)).squeeze(-1)  # (B, T)
        moves = transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        last_tags = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        # where, not a product with the mask: a padded move may be -inf, and -inf * 0 is nan
        return (
            start[tags[:, 0]]
            + emitted.where(mask, 0.0).sum(1)
            + moves.where(mask[:, 1:], 0.0).sum(1)
            + end[last_tags]
        )

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """:math:`\\log Z` by the forward algorithm: ``(B,)``."""
        return self.log_partition_from(self.forward_scores(emissions, mask))

    def log_partition_from(self, alpha: Tensor) -> Tensor:
        """:math:`\\log Z` from the forward scores ``(B, T, C)``: their last step holds each
        sentence's own last :math:`\\alpha`, carried over its padding."""
        end = self.constrained_scores()[2]
        return torch.logsumexp(alpha[:, -1] + end, dim=1)

    def forward_scores(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """:math:`\\alpha_t(j)` at every step, ``(B, T, C)``; a finished sentence keeps its
        last :math:`\\alpha` over its padding."""
        start, transitions, _ = self.constrained_scores()
        alpha = start + emissions[:, 0]  # (B, C)
        alphas = [alpha]
        for t in range(1, emissions.shape[1]):
            # alpha_t(j) = e_t(j) + logsumexp_i(alpha_{t-1}(i) + A_ij)
            step = emissions[:, t] + torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1)
            alpha = torch.where(mask[:, t : t + 1], step, alpha)
            alphas.append(alpha)
        return torch.stack(alphas, dim=1)

    def backward_scores(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """:math:`\\beta_t(i)` at every step, ``(B, T, C)``: :math:`\\omega` at each sentence's
        last token (and over its padding)."""
        _, transitions, end = self.constrained_scores()
        beta = end.expand(emissions.shape[0], -1)  # (B, C)
        betas = [beta]
        for t in range(emissions.shape[1] - 2, -1, -1):
            # beta_t(i) = logsumexp_j(A_ij + e_{t+1}(j) + beta_{t+1}(j))
            following = (emissions[:, t + 1] + beta).unsqueeze(1)  # (B, 1, C)
            step = torch.logsumexp(transitions + following, dim=2)
            beta = torch.where(mask[:, t + 1 : t + 2], step, end)
            betas.append(beta)
        return torch.stack(betas[::-1], dim=1)

    def marginals(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """:math:`p(y_t = j \\mid x)`, ``(B, T, C)``: each real token's sums to 1 (padding: 0)."""
        alpha = self.forward_scores(emissions, mask)
        beta = self.backward_scores(emissions, mask)
        log_z = self.log_partition_from(alpha)
        marginals = (alpha + beta - log_z[:, None, None]).exp()
        return marginals.where(mask.unsqueeze(-1), 0.0)

    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """The highest-scoring allowed tag sequence of each sentence (its own length)."""
        return viterbi(emissions, mask, *self.constrained_scores())


def viterbi(
    emissions: Tensor, mask: Tensor, start: Tensor, transitions: Tensor, end: Tensor
) -> list[list[int]]:
    """Best path under ``start (C,)``, ``transitions (C, C)``, ``end (C,)`` (-inf: forbidden)."""
    batch, steps = mask.shape
    score = start + emissions[:, 0]  # (B, C): best score of a path ending in each tag
    backpointers = []
    for t in range(1, steps):
        candidates = score.unsqueeze(2) + transitions  # (B, C_previous, C)
        best, previous = candidates.max(dim=1)
        score = torch.where(mask[:, t : t + 1], best + emissions[:, t], score)
        backpointers.append(previous)
    best_last = (score + end).argmax(dim=1).tolist()
    lengths = mask.sum(1).tolist()
    pointers = torch.stack(backpointers).tolist() if backpointers else []  # (T-1, B, C)
    paths = []
    for row in range(batch):
        path = [best_last[row]]
        for t in range(lengths[row] - 1, 0, -1):
            path.append(pointers[t - 1][row][path[-1]])
        paths.append(path[::-1])
    return paths
