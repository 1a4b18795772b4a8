"""One RNN layer, both directions, forward and backpropagation through time (BPTT).

Every engine here takes the same arguments and returns the same thing:

    layer(x, h0, packing, nonlinearity, weights) -> (output, h_n)

    x:       (T, B, I)   time-major, batch sorted longest first (see ``Packing``)
    h0:      (D, B, H)   initial state of each direction, or None for zeros
    weights: D tuples (W_ih (H, I), W_hh (H, H), b_ih (H,) or None, b_hh (H,) or None)
    output:  (T, B, D*H) h_t of every step, zeros at padded steps
    h_n:     (D, B, H)   each sequence's state at its own last valid step

The reverse direction runs forward over ``packing.reverse(x)``, so it starts at each sequence's
own last valid step; its outputs are reversed back before they are returned.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnpipe.rnn.layer import Weights
from rnnpipe.rnn.packing import Packing

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}
ACTIVATIONS_INPLACE = {"tanh": torch.tanh_, "relu": torch.relu_}
SLOPES = {  # f'(a) from h = f(a), so the forward need keep only h
    "tanh": lambda h: torch.addcmul(h.new_ones(()), h, h, value=-1),  # 1 - h^2 in one pass
    "relu": lambda h: (h > 0).to(h.dtype),
}


def autograd_layer(
    x: Tensor,
    h0: Tensor | None,
    packing: Packing,
    nonlinearity: str,
    weights: list[Weights],
    kept_states: list[Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """The reference engine: h_t = f(W_ih x_t + W_hh h_{t-1} + b), a Python loop over time.

    Autograd records every step and walks it back; the input projection of all steps is one
    matmul before the loop, and the loop steps over its unbound steps (indexing a step out of
    the whole tensor would make each step's backward allocate a gradient of the whole tensor).
    ``kept_states``, when given, receives the forward direction's h_t of every step with
    ``retain_grad``: after backward, each ``.grad`` is BPTT's dL/dh_t (rows still running).
    """
    activation = ACTIVATIONS[nonlinearity]
    batch = x.shape[1]
    outputs, finals = [], []
    for direction, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights):
        x_d = x if direction == 0 else packing.reverse(x)
        bias = None if b_ih is None else b_ih + b_hh
        projected = F.linear(x_d, w_ih, bias)  # W_ih x_t + b for all steps: (T, B, H)
        w_hh_t = w_hh.t()
        h = x.new_zeros(batch, w_hh.shape[0]) if h0 is None else h0[direction]
        steps = []
        for projected_t, active in zip(projected.unbind(0), packing.batch_sizes, strict=True):
            h_t = activation(torch.addmm(running(projected_t, active), running(h, active), w_hh_t))
            if kept_states is not None and direction == 0 and h_t.requires_grad:
                h_t.retain_grad()
                kept_states.append(h_t)
            steps.append(padded(h_t, batch))
            h = carried(h_t, h, active)
        output = torch.stack(steps)
        outputs.append(output if direction == 0 else packing.reverse(output))
        finals.append(h)
    return torch.cat(outputs, dim=-1), torch.stack(finals)


def manual_layer(
    x: Tensor, h0: Tensor | None, packing: Packing, nonlinearity: str, weights: list[Weights]
) -> tuple[Tensor, Tensor]:
    """The hand-written BPTT engine (see ``ManualBPTT``); inference skips building a graph."""
    if torch.is_grad_enabled():
        flat_weights = [w for direction in weights for w in direction]
        if any(t is not None and t.requires_grad for t in (x, h0, *flat_weights)):
            return ManualBPTT.apply(x, h0, packing, nonlinearity, *flat_weights)
    h, _ = forward_states(x, h0, packing, nonlinearity, weights)
    return layer_outputs(h, packing)


def forward_states(
    x: Tensor, h0: Tensor | None, packing: Packing, nonlinearity: str, weights: list[Weights]
) -> tuple[Tensor, list[Tensor]]:
    """Every state of one layer, computed in place: h_t = f(W_ih x_t + b + W_hh h_{t-1}).

    Returns ``h`` of shape ``(T + 1, D, B, H)`` with ``h[0, d] = h0`` and ``h[t + 1, d] = h_t``
    in each direction's step order (zeros at padding), and each direction's input steps as
    ``(T * B, I)``: ``x``, and for the reverse direction each sequence reversed. Time-major, so
    that each step's ``(D, B, H)`` is contiguous: the batched matmul then writes it directly,
    where a strided step costs it a copy.
    """
    steps, batch, features = x.shape
    directions, hidden = len(weights), weights[0][1].shape[0]
    inputs = [x] if directions == 1 else [x, packing.reverse(x)]
    inputs = [x_d.reshape(steps * batch, features) for x_d in inputs]

    # h first holds W_ih x_t + b of every step that is not padding (padding stays zero), one
    # matmul per direction; the loop then adds W_hh h_{t-1} and applies f, one step at a time,
    # on the sequences still running. One direction's steps are the rows of one matrix in h and
    # are written there; two directions' are interleaved, so they are projected apart and copied.
    rows = packing.valid_rows
    new = x.new_empty if rows is None else x.new_zeros
    h = new(steps + 1, directions, batch, hidden)
    if h0 is None:
        h[0].zero_()
    else:
        h[0].copy_(h0)
    projected = h[1:].transpose(0, 1) if directions == 1 else new(directions, steps, batch, hidden)
    for d, (x_d, (w_ih, _, b_ih, b_hh)) in enumerate(zip(inputs, weights, strict=True)):
        bias = x.new_zeros(hidden) if b_ih is None else b_ih + b_hh
        projection = projected[d].view(steps * batch, hidden)
        if rows is None:
            torch.addmm(bias, x_d, w_ih.t(), out=projection)
        else:
            projection.index_copy_(0, rows, torch.addmm(bias, x_d[rows], w_ih.t()))
    if directions == 2:
        h[1:] = projected.transpose(0, 1)

    activation_ = ACTIVATIONS_INPLACE[nonlinearity]
    w_hh = stack_directions([w_hh for _, w_hh, _, _ in weights])
    h_steps, w_hh_t, matmul_ = step_views(h, w_hh.mT)  # h_steps[t + 1] is h_t
    for h_prev, h_t, active in zip(h_steps[:-1], h_steps[1:], packing.batch_sizes, strict=True):
        activation_(matmul_(running(h_t, active), running(h_prev, active), w_hh_t))
    return h, inputs


def layer_outputs(h: Tensor, packing: Packing) -> tuple[Tensor, Tensor]:
    """``(output (T, B, D*H), h_n (D, B, H))`` from the states of :func:`forward_states`."""
    states = h[1:]
    time, rows = packing.last_steps()
    h_n = states.transpose(0, 1)[:, time, rows]
    if h.shape[1] == 1:
        return states[:, 0], h_n
    return torch.cat((states[:, 0], packing.reverse(states[:, 1])), dim=-1), h_n


class ManualBPTT(torch.autograd.Function):
    """One layer with its backward written out: BPTT as a reverse walk over the kept states.

    Forward keeps every state h_t (and the inputs); no graph is recorded. Backward walks time
    in reverse,

        da_t = (dy_t + da_{t+1} W_hh) * f'(a_t)        f'(a_t) = 1 - h_t^2 (tanh), [h_t > 0] (ReLU)

    then forms each gradient with one matmul over all steps:

        dW_hh = sum_t da_t^T h_{t-1}    dW_ih = sum_t da_t^T x_t    db = sum_t da_t
        dx_t  = da_t W_ih               dh0   = da_0 W_hh

    Both directions step side by side, one batched matmul per step with W_hh stacked to
    ``(D, H, H)``. Not twice differentiable: backward with ``create_graph=True`` is refused.
    """

    @staticmethod
    def forward(ctx, x, h0, packing: Packing, nonlinearity: str, *flat_weights):
        weights = [flat_weights[i : i + 4] for i in range(0, len(flat_weights), 4)]
        h, inputs = forward_states(x, h0, packing, nonlinearity, weights)
        ctx.save_for_backward(h, *inputs, *flat_weights)
        # an output nobody used (a character RNN's, whose caller reads only h_n) gets None as
        # its gradient rather than a tensor of zeros to copy and reverse
        ctx.set_materialize_grads(False)
        ctx.packing, ctx.nonlinearity = packing, nonlinearity
        return layer_outputs(h, packing)

    @staticmethod
    def backward(ctx, grad_output, grad_h_n):
        if torch.is_grad_enabled():  # backward(create_graph=True): a graph of this backward
            raise RuntimeError(
                "VanillaRNN(bptt='manual') is not twice differentiable; use bptt='autograd' "
                "for higher-order gradients"
            )
        h, *saved = ctx.saved_tensors
        packing: Packing = ctx.packing
        steps_plus_one, directions, batch, hidden = h.shape
        steps = steps_plus_one - 1
        inputs, flat_weights = saved[:directions], saved[directions:]
        weights = [flat_weights[i : i + 4] for i in range(0, len(flat_weights), 4)]
        w_hh = stack_directions([w_hh for _, w_hh, _, _ in weights])

        # f'(a_t), zero at padding so padded steps pass no gradient.
        slope = SLOPES[ctx.nonlinearity](h[1:])
        if packing.padding is not None:
            slope.masked_fill_(packing.padding[:, None, :, None], 0.0)

        # grad holds dL/dh_t from above (the output's and h_n's gradient), time-major like h and
        # in each direction's step order, then becomes da_t in place as the walk goes back. It
        # is a copy: autograd may hand the same grad_output to other functions too.
        if grad_output is None:
            grad = h.new_zeros(steps, directions, batch, hidden)
        else:
            grad = grad_output.reshape(steps, batch, directions, hidden).transpose(1, 2)
            grad = grad.clone(memory_format=torch.contiguous_format)
            if directions == 2:
                grad[:, 1] = packing.reverse(grad[:, 1])
        if grad_h_n is not None:
            time, rows = packing.last_steps()
            grad.transpose(0, 1)[:, time, rows] += grad_h_n
        grad_steps, w_hh_per_step, matmul_ = step_views(grad, w_hh)
        slope_steps = step_views(slope, w_hh)[0]
        grad_steps[-1].mul_(slope_steps[-1])
        for t in reversed(range(steps - 1)):
            active = packing.batch_sizes[t + 1]  # the rows that step t + 1 fed back through W_hh
            da_next = running(grad_steps[t + 1], active)
            matmul_(running(grad_steps[t], active), da_next, w_hh_per_step)
            grad_steps[t].mul_(slope_steps[t])

        grad_h0 = torch.bmm(grad[0], w_hh) if ctx.needs_input_grad[1] else None
        # da_t and h_{t-1} direction-major, (D, T * B, H), for the matmuls over all steps
        grad_a = direction_major(grad, spare=slope)
        h_prev = direction_major(h[:-1], spare=grad)
        grad_x, grad_weights = None, []
        for d, (x_d, (w_ih, _, b_ih, _)) in enumerate(zip(inputs, weights, strict=True)):
            grad_bias = None if b_ih is None else grad_a[d].sum(0)
            grad_weights += [grad_a[d].t() @ x_d, grad_a[d].t() @ h_prev[d], grad_bias, grad_bias]
            if ctx.needs_input_grad[0]:
                grad_x_d = (grad_a[d] @ w_ih).view(steps, batch, -1)
                grad_x_d = grad_x_d if d == 0 else packing.reverse(grad_x_d)
                grad_x = grad_x_d if grad_x is None else grad_x.add_(grad_x_d)
        return grad_x, grad_h0, None, None, *grad_weights


def padded(h_t: Tensor, batch: int) -> Tensor:
    """A step's output for the whole batch: zeros in the rows of sequences that have ended."""
    return h_t if h_t.shape[0] == batch else F.pad(h_t, (0, 0, 0, batch - h_t.shape[0]))


def carried(new: Tensor, old: Tensor, active: int) -> Tensor:
    """The state after a step that ran the first ``active`` rows: theirs is new, the ended
    sequences keep their last one."""
    return new if active == old.shape[0] else torch.cat((new, old[active:]))


def running(step: Tensor, active: int) -> Tensor:
    """The first ``active`` rows of a ``(B, H)`` or ``(D, B, H)`` step: the sequences running."""
    return step if active == step.shape[-2] else step[..., :active, :]


def step_views(buffer: Tensor, w_hh: Tensor) -> tuple[tuple[Tensor, ...], Tensor, Callable]:
    """Steps of a ``(T, D, B, H)`` buffer, ``W_hh`` and the in-place matmul that applies it.

    One direction gets ``(B, H)`` steps and ``addmm_``; two get ``(D, B, H)`` steps and one
    ``baddbmm_`` for both.
    """
    if buffer.shape[1] == 1:
        return buffer[:, 0].unbind(0), w_hh[0], Tensor.addmm_
    return buffer.unbind(0), w_hh, Tensor.baddbmm_


def direction_major(steps: Tensor, spare: Tensor) -> Tensor:
    """``(T, D, B, H)`` steps as ``(D, T * B, H)``: a view for one direction, else a copy into
    ``spare``, a spent buffer of the same size (fresh memory would cost a page fault per page).
    """
    time, directions, batch, hidden = steps.shape
    if directions == 1:
        return steps.view(1, time * batch, hidden)
    spare = spare.view(directions, time, batch, hidden).copy_(steps.transpose(0, 1))
    return spare.view(directions, time * batch, hidden)


def stack_directions(tensors: list[Tensor]) -> Tensor:
    """``(D, ...)`` from one tensor per direction; a view, not a copy, for one direction."""
    return tensors[0][None] if len(tensors) == 1 else torch.stack(tensors)
