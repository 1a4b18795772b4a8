"""One RNN layer, both directions, forward and backpropagation through time (BPTT).

Every engine here takes the same arguments and returns the same thing:

    layer(x, h0, packing, nonlinearity, weights) -> (output, h_n)

    x:       (T, B, I)   time-major, batch sorted longest first (see ``Packing``)
    h0:      (D, B, H)   initial state of each direction
    weights: D tuples (W_ih (H, I), W_hh (H, H), b_ih (H,) or None, b_hh (H,) or None)
    output:  (T, B, D*H) h_t of every step, zeros at padded steps
    h_n:     (D, B, H)   each sequence's state at its own last valid step

The reverse direction runs forward over ``packing.reverse(x)``, so it starts at each sequence's
own last valid step; its outputs are reversed back before they are returned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnpipe.rnn.packing import Packing

Weights = tuple[Tensor, Tensor, Tensor | None, Tensor | None]

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}
ACTIVATIONS_INPLACE = {"tanh": torch.tanh_, "relu": torch.relu_}
SLOPES = {  # f'(a) from h = f(a), so the forward need keep only h
    "tanh": lambda h: 1 - h * h,
    "relu": lambda h: (h > 0).to(h.dtype),
}


def autograd_layer(
    x: Tensor, h0: Tensor, packing: Packing, nonlinearity: str, weights: list[Weights]
) -> tuple[Tensor, Tensor]:
    """The reference engine: h_t = f(W_ih x_t + W_hh h_{t-1} + b), a Python loop over time.

    Autograd records every step and walks it back; the input projection of all steps is one
    matmul before the loop.
    """
    activation = ACTIVATIONS[nonlinearity]
    batch = x.shape[1]
    outputs, finals = [], []
    for direction, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights):
        x_d = x if direction == 0 else packing.reverse(x)
        bias = None if b_ih is None else b_ih + b_hh
        projected = F.linear(x_d, w_ih, bias)  # W_ih x_t + b for all steps: (T, B, H)
        h = h0[direction]
        steps = []
        for projected_t, active in zip(projected.unbind(0), packing.batch_sizes, strict=True):
            h_t = activation(torch.addmm(projected_t[:active], h[:active], w_hh.t()))
            steps.append(F.pad(h_t, (0, 0, 0, batch - active)))
            h = torch.cat((h_t, h[active:]))  # finished sequences keep their last state
        output = torch.stack(steps)
        outputs.append(output if direction == 0 else packing.reverse(output))
        finals.append(h)
    return torch.cat(outputs, dim=-1), torch.stack(finals)


class ManualBPTT(torch.autograd.Function):
    """One layer with its backward written out: BPTT as a reverse walk over the kept states.

    Forward keeps every state h_t; nothing else is recorded. Backward walks time in reverse,

        da_t = (dy_t + da_{t+1} W_hh) * f'(a_t)        f'(a_t) = 1 - h_t^2 (tanh), [h_t > 0] (ReLU)

    then forms each gradient over all steps at once:

        dW_hh = sum_t da_t^T h_{t-1}    dW_ih = sum_t da_t^T x_t    db = sum_t da_t
        dx_t  = da_t W_ih               dh0   = da_0 W_hh

    Both directions run side by side: their weights stacked to ``(D, H, H)``, one batched
    matmul per step. Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, x, h0, packing: Packing, nonlinearity: str, *weights):
        steps, batch, features = x.shape
        directions, _, hidden = h0.shape
        w_ih = torch.stack(weights[0::4])  # (D, H, I)
        w_hh = torch.stack(weights[1::4])  # (D, H, H)
        has_bias = weights[2] is not None
        x = x.reshape(steps * batch, features)

        # h[:, 0] = h0 and h[:, t + 1] = h_t. It first holds W_ih x_t + b for every step at once,
        # then the loop adds W_hh h_{t-1} and applies f in place, step by step.
        h = x.new_empty(directions, steps + 1, batch, hidden)
        h[:, 0] = h0
        projection = h[:, 1:].view(directions, steps * batch, hidden)
        x_per_direction = x.expand(directions, *x.shape)
        if has_bias:
            bias = torch.stack(weights[2::4]) + torch.stack(weights[3::4])  # (D, H)
            torch.baddbmm(bias[:, None], x_per_direction, w_ih.mT, out=projection)
        else:
            torch.bmm(x_per_direction, w_ih.mT, out=projection)
        if directions == 2:
            h[1, 1:] = packing.reverse(h[1, 1:])

        activation_ = ACTIVATIONS_INPLACE[nonlinearity]
        w_hh_t = w_hh.mT
        for t, active in enumerate(packing.batch_sizes):
            activation_(h[:, t + 1, :active].baddbmm_(h[:, t, :active], w_hh_t))
        if packing.padding is not None:
            h[:, 1:].masked_fill_(packing.padding[:, :, None], 0.0)

        ctx.save_for_backward(x, h, w_ih, w_hh)
        ctx.packing, ctx.nonlinearity, ctx.has_bias = packing, nonlinearity, has_bias
        states = h[:, 1:]
        h_n = states[:, packing.last_steps()[0], packing.last_steps()[1]]
        if directions == 1:
            return states[0], h_n
        return torch.cat((states[0], packing.reverse(states[1])), dim=-1), h_n

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output, grad_h_n):
        x, h, w_ih, w_hh = ctx.saved_tensors
        packing: Packing = ctx.packing
        directions, steps_plus_one, batch, hidden = h.shape
        steps = steps_plus_one - 1
        states = h[:, 1:]

        # f'(a_t), zero at padding so padded steps pass no gradient.
        slope = SLOPES[ctx.nonlinearity](states)
        if packing.padding is not None:
            slope.masked_fill_(packing.padding[:, :, None], 0.0)

        # grad holds dL/dh_t from above (the output's and h_n's gradient), in each direction's
        # step order, then becomes da_t in place as the walk goes back.
        grad = grad_output.view(steps, batch, directions, hidden).permute(2, 0, 1, 3).contiguous()
        if directions == 2:
            grad[1] = packing.reverse(grad[1])
        time, rows = packing.last_steps()
        grad[:, time, rows] += grad_h_n
        for t in reversed(range(steps)):
            if t + 1 < steps:
                active = packing.batch_sizes[t + 1]
                grad[:, t, :active].baddbmm_(grad[:, t + 1, :active], w_hh)
            grad[:, t].mul_(slope[:, t])

        grad_a = grad.view(directions, steps * batch, hidden)
        grad_w_hh = torch.bmm(grad_a.mT, h[:, :-1].reshape(directions, steps * batch, hidden))
        grad_h0 = torch.bmm(grad[:, 0], w_hh) if ctx.needs_input_grad[1] else None
        if directions == 2:
            grad[1] = packing.reverse(grad[1])  # back to input order for W_ih, b and x
        grad_w_ih = torch.bmm(grad_a.mT, x.expand(directions, *x.shape))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.bmm(grad_a, w_ih).sum(0).view(steps, batch, -1)
        grad_bias = grad_a.sum(1) if ctx.has_bias else [None] * directions

        grad_weights = []
        for d in range(directions):
            grad_weights += [grad_w_ih[d], grad_w_hh[d], grad_bias[d], grad_bias[d]]
        return grad_x, grad_h0, None, None, *grad_weights


def manual_layer(
    x: Tensor, h0: Tensor, packing: Packing, nonlinearity: str, weights: list[Weights]
) -> tuple[Tensor, Tensor]:
    """The hand-written BPTT engine (see ``ManualBPTT``)."""
    return ManualBPTT.apply(x, h0, packing, nonlinearity, *(w for ws in weights for w in ws))
