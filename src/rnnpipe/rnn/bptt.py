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

from rnnpipe.rnn.packing import Packing

Weights = tuple[Tensor, Tensor, Tensor | None, Tensor | None]

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


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
