"""Gated baselines beside the vanilla RNN, written by hand the same way: the GRU and the LSTM.

Both are drop-ins for PyTorch's built-in GRU and LSTM (``batch_first=True``): the same
constructor arguments, parameter names and gate order (so a state_dict loads either way), the
same outputs, and the same variable-length behaviour as packing (see :class:`RecurrentLayer`).
Their backward is autograd's over the step loop below; the hand-written BPTT engine is the
vanilla RNN's alone (``bptt="manual"`` is refused). Per step, with sigma the logistic function:

GRU (gates r, z, n; state h)::

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

LSTM (gates i, f, g, o; state (h, c))::

    i_t, f_t, o_t = sigma(W_i. x_t + b_i. + W_h. h_{t-1} + b_h.)
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

The gates' paths around the multiplication by W_hh (z_t * h_{t-1}, f_t * c_{t-1}) are what lets
their gradient through time survive long spans where the vanilla RNN's vanishes.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnpipe.rnn.bptt import carried, padded, running
from rnnpipe.rnn.layer import RecurrentLayer, State, Weights
from rnnpipe.rnn.packing import Packing


class GatedRNN(RecurrentLayer):
    """The loop both gated cells share; a subclass writes :meth:`step`."""

    cell: ClassVar[str]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        bptt: str = "autograd",
    ):
        if bptt != "autograd":
            raise ValueError(
                f"bptt={bptt!r}: the hand-written BPTT engine is the vanilla RNN's; a "
                f"{self.cell} trains with bptt=autograd"
            )
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional)
        self.bptt = bptt
        self.reset_parameters()

    def step(self, gates_x: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
        """One step for the running rows: ``gates_x (B', G*H)`` (W_ih x_t + b_ih) and the
        previous state -> the new state."""
        raise NotImplementedError

    def cell_step(self, x_t: Tensor, state: State, weights: Weights) -> State:
        w_ih, w_hh, b_ih, b_hh = weights
        return self.step(F.linear(x_t, w_ih, b_ih), state, w_hh, b_hh)

    def run_layer(
        self, layer: int, x: Tensor, state0: State | None, packing: Packing, keep: bool
    ) -> tuple[Tensor, State]:
        batch, hidden = x.shape[1], self.hidden_size
        outputs, finals = [], []
        weights: list[Weights] = self.layer_weights(layer)
        for direction, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights):
            x_d = x if direction == 0 else packing.reverse(x)
            projected = F.linear(x_d, w_ih, b_ih)  # W_ih x_t + b_ih for all steps: (T, B, G*H)
            if state0 is None:
                state = tuple(x.new_zeros(batch, hidden) for _ in range(self.state_size))
            else:
                state = tuple(s[direction] for s in state0)
            steps = []
            for gates_x, active in zip(projected.unbind(0), packing.batch_sizes, strict=True):
                new = self.step(
                    running(gates_x, active), [running(s, active) for s in state], w_hh, b_hh
                )
                h_t = new[0]
                if keep and direction == 0 and h_t.requires_grad:
                    h_t.retain_grad()
                    self._kept_states.append(h_t)
                steps.append(padded(h_t, batch))
                state = tuple(carried(n, s, active) for n, s in zip(new, state, strict=True))
            output = torch.stack(steps)
            outputs.append(output if direction == 0 else packing.reverse(output))
            finals.append(state)
        final = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        return torch.cat(outputs, dim=-1), final


class GRU(GatedRNN):
    """A multi-layer gated recurrent unit, with the built-in GRU's contract."""

    cell = "GRU"
    gates = 3

    def step(self, gates_x: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
        (h,) = state
        x_r, x_z, x_n = gates_x.chunk(3, dim=-1)
        h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return ((1 - z) * n + z * h,)


class LSTM(GatedRNN):
    """A multi-layer long short-term memory, with the built-in LSTM's contract: its state
    is ``(h, c)``, given as ``h0=(h0, c0)`` and returned as ``(h_n, c_n)``."""

    cell = "LSTM"
    gates = 4
    state_size = 2

    def step(self, gates_x: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
        h, c = state
        i, f, g, o = (gates_x + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
