"""What every recurrent module here shares: the constructor of PyTorch's built-in RNN family,
parameters named and initialised as PyTorch's, input checks, variable lengths as packing does
them, stacked layers with dropout between them, and the gradient-through-time diagnostic.

A subclass says how many gate blocks its weights hold (``gates``: 1 for the Elman RNN, 3 for
the GRU, 4 for the LSTM) and how one layer runs (:meth:`run_layer`). The state is one tensor
``h`` for the RNN and the GRU, and a pair ``(h, c)`` for the LSTM; internally always a tuple.

Shapes (B batch, T steps, L layers, D = 2 if bidirectional else 1):
    - x: ``(B, T, input_size)``, batch first;
    - each state tensor: ``(L * D, B, hidden_size)``; zeros when not given;
    - lengths: ``(B,)`` integer tensor, each in ``[1, T]``; steps past a length are padding;
    - output: ``(B, T, D * hidden_size)``, the last layer's h_t; zeros at padding;
    - final state: each sequence's state at its own last valid step (the reverse direction's
      at step 0).
"""

from __future__ import annotations

import math
import warnings
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnpipe.rnn.packing import Packing

State = tuple[Tensor, ...]  # (h,) or (h, c), each (D, B, H) for one layer
Weights = tuple[Tensor, Tensor, Tensor | None, Tensor | None]  # W_ih, W_hh, b_ih, b_hh


class RecurrentLayer(nn.Module):
    gates: ClassVar[int] = 1  # blocks of hidden_size rows in each weight matrix
    state_size: ClassVar[int] = 1  # tensors in the state: 1 (h) or 2 (h, c)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        dropout: float,
        bidirectional: bool,
    ):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout acts between layers; with num_layers=1 it does nothing", stacklevel=3
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        # diagnostics, off by default: see gradient_norms_through_time
        self.record_gradient_through_time = False
        self._kept_states: list[Tensor] = []

        # Parameter names as PyTorch's built-ins have them: (W_ih, W_hh, b_ih, b_hh) of each
        # direction of each layer, each matrix `gates` blocks of hidden_size rows.
        self._weight_names = [
            [
                (f"weight_ih{suffix}", f"weight_hh{suffix}", f"bias_ih{suffix}", f"bias_hh{suffix}")
                for suffix in (f"_l{layer}", f"_l{layer}_reverse")[: self.num_directions]
            ]
            for layer in range(num_layers)
        ]
        rows = self.gates * hidden_size
        for layer, directions in enumerate(self._weight_names):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for w_ih, w_hh, b_ih, b_hh in directions:
                self.register_parameter(w_ih, nn.Parameter(torch.empty(rows, layer_input)))
                self.register_parameter(w_hh, nn.Parameter(torch.empty(rows, hidden_size)))
                if bias:
                    self.register_parameter(b_ih, nn.Parameter(torch.empty(rows)))
                    self.register_parameter(b_hh, nn.Parameter(torch.empty(rows)))

    def reset_parameters(self) -> None:
        """PyTorch's: every parameter uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def layer_weights(self, layer: int) -> list[Weights]:
        """``(W_ih, W_hh, b_ih, b_hh)`` of each direction of ``layer``; biases None without bias."""
        return [
            (
                getattr(self, w_ih),
                getattr(self, w_hh),
                getattr(self, b_ih, None),
                getattr(self, b_hh, None),
            )
            for w_ih, w_hh, b_ih, b_hh in self._weight_names[layer]
        ]

    def cell_repr(self) -> str:
        """What the cell adds to the module's repr (the vanilla RNN's nonlinearity, ...)."""
        return ""

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        text += self.cell_repr()
        if not self.bias:
            text += ", bias=False"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text

    def run_layer(
        self, layer: int, x: Tensor, state0: State | None, packing: Packing, keep: bool
    ) -> tuple[Tensor, State]:
        """One layer, both directions: ``x (T, B, I)`` time-major and sorted, ``state0`` per
        direction ``(D, B, H)`` or None -> ``(output (T, B, D*H), final state)``. ``keep``:
        record the forward direction's h_t for :meth:`gradient_norms_through_time`."""
        raise NotImplementedError

    def cell_step(self, x_t: Tensor, state: State, weights: Weights) -> State:
        """One step of one direction of one layer, for every row: ``x_t (B, I)`` and the
        previous state ``(B, H)`` each -> the new state."""
        raise NotImplementedError

    def single_step(self, x: Tensor, state0: State | None) -> tuple[Tensor, State]:
        """:meth:`forward` for one step and no lengths, the call of every decoder and sampler:
        each layer's cell once per direction, without the sorting, packing and state buffers
        that a whole sequence needs (they cost more than the step itself)."""
        batch = x.shape[0]
        if state0 is None:
            zeros = self.zero_state(batch, x)
            state0 = zeros if isinstance(zeros, tuple) else (zeros,)
        layer_input, finals = x[:, 0], []
        for layer in range(self.num_layers):
            outputs = []
            for direction, weights in enumerate(self.layer_weights(layer)):
                row = layer * self.num_directions + direction
                new = self.cell_step(layer_input, tuple(s[row] for s in state0), weights)
                outputs.append(new[0])
                finals.append(new)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout)
        state = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        return layer_input[:, None], state

    def zero_state(self, batch: int, like: Tensor) -> Tensor | State:
        """h_0 = 0 ``(L*D, B, H)`` (the LSTM's ``(h_0, c_0)``), on ``like``'s device and dtype."""
        zeros = [
            like.new_zeros(self.num_layers * self.num_directions, batch, self.hidden_size)
            for _ in range(self.state_size)
        ]
        return zeros[0] if self.state_size == 1 else tuple(zeros)

    def forward(
        self, x: Tensor, h0: Tensor | State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor | State]:
        """``x (B, T, I)``, the initial state ``h0`` (the LSTM's: ``(h0, c0)``), ``lengths (B,)``
        -> ``(output, final state)``: ``h_n``, or the LSTM's ``(h_n, c_n)``."""
        state0 = self._check_input(x, h0)
        batch, seq_len, _ = x.shape
        if seq_len == 1 and lengths is None and not self.record_gradient_through_time:
            output, state = self.single_step(x, state0)
            return output, state[0] if self.state_size == 1 else state
        if lengths is None:
            packing = Packing.full(batch, seq_len)
        else:
            packing = Packing.from_lengths(
                self._check_lengths(lengths, batch, seq_len), seq_len, x.device
            )

        layer_input = packing.sort(x.transpose(0, 1), dim=1)  # (T, B, I), time-major
        if state0 is None:
            per_layer = [None] * self.num_layers  # zeros, made by each layer
        else:
            sorted_state = [packing.sort(s, dim=1).split(self.num_directions) for s in state0]
            per_layer = list(zip(*sorted_state, strict=True))
        finals = []
        for layer, layer_state in enumerate(per_layer):
            keep = self.record_gradient_through_time and layer == self.num_layers - 1
            if keep:
                self._kept_states = []
            output, final = self.run_layer(layer, layer_input, layer_state, packing, keep)
            finals.append(final)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                output = F.dropout(output, self.dropout)
            layer_input = output
        output = packing.unsort(layer_input.transpose(0, 1))  # (B, T, D*H)
        state = tuple(
            packing.unsort(parts[0] if len(parts) == 1 else torch.cat(parts), dim=1)
            for parts in zip(*finals, strict=True)
        )
        return output, state[0] if self.state_size == 1 else state

    def gradient_norms_through_time(self) -> list[float]:
        """``||dL/dh_t||`` for t = 1..T: how much gradient BPTT brought back to each step.

        Set ``record_gradient_through_time = True`` before a forward; after its backward this
        gives one norm per step, over the batch and the hidden units, of the top layer (its
        forward direction), whose states that forward kept.
        """
        return [0.0 if h_t.grad is None else float(h_t.grad.norm()) for h_t in self._kept_states]

    def _check_input(self, x: Tensor, state0: Tensor | State | None) -> State | None:
        if x.dim() != 3:
            raise ValueError(
                f"x must be 3-dimensional (batch, steps, input_size), got shape {tuple(x.shape)}"
            )
        if x.shape[2] != self.input_size:
            raise ValueError(
                f"x has {x.shape[2]} features per step, expected input_size={self.input_size}"
            )
        if x.shape[1] == 0:
            raise ValueError("x has no time steps")
        weight = self.weight_ih_l0
        if x.dtype != weight.dtype or x.device != weight.device:
            raise ValueError(
                f"x is {x.dtype} on {x.device} but the parameters are {weight.dtype} on "
                f"{weight.device}; move one to the other (e.g. rnn.to(x))"
            )
        if state0 is None:
            return None
        state = (state0,) if isinstance(state0, Tensor) else tuple(state0)
        names = ("h0",) if self.state_size == 1 else ("h0", "c0")
        if len(state) != self.state_size:
            raise ValueError(f"the initial state must be {', '.join(names)}, got {len(state)}")
        expected = (self.num_layers * self.num_directions, x.shape[0], self.hidden_size)
        for name, tensor in zip(names, state, strict=True):
            if tuple(tensor.shape) != expected:
                raise ValueError(
                    f"{name} must be (num_layers * num_directions, batch, hidden_size) = "
                    f"{expected}, got {tuple(tensor.shape)}"
                )
        return state

    @staticmethod
    def _check_lengths(lengths: Tensor, batch: int, seq_len: int) -> Tensor:
        lengths = torch.as_tensor(lengths).cpu()
        if lengths.dim() != 1 or lengths.shape[0] != batch:
            raise ValueError(
                f"lengths must be ({batch},), one per sequence, got {tuple(lengths.shape)}"
            )
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must be an integer tensor, got {lengths.dtype}")
        if batch and (lengths.min() < 1 or lengths.max() > seq_len):
            raise ValueError(
                f"lengths must lie in [1, {seq_len}] (the padded length of x), "
                f"got min {lengths.min().item()} and max {lengths.max().item()}"
            )
        return lengths.long()
