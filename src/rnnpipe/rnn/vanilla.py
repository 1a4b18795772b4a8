"""The vanilla RNN module: a drop-in for PyTorch's built-in RNN with ``batch_first=True``."""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnpipe.rnn.bptt import Weights, autograd_layer, manual_layer
from rnnpipe.rnn.packing import Packing

ENGINES = {"manual": manual_layer, "autograd": autograd_layer}
NONLINEARITIES = ("tanh", "relu")
INITS = ("default", "identity", "orthogonal")
IDENTITY_INPUT_STD = 0.001  # Le et al. (2015): W_ih ~ N(0, 0.001^2) beside W_hh = scale * I


class VanillaRNN(nn.Module):
    r"""A multi-layer Elman RNN with tanh or ReLU, its BPTT written out by hand.

    For each element of the input sequence, each layer computes

    .. math::
        h_t = f(W_{ih} x_t + W_{hh} h_{t-1} + b_{ih} + b_{hh})

    the tutorial's :math:`h_t = f(W x_t + W h_{t-1} + b)` with its two W told apart:
    :math:`h_t` is the hidden state at step t, :math:`x_t` the input at step t (for layers after
    the first, the previous layer's :math:`h_t`, through dropout when training), :math:`h_{-1}`
    is ``h0`` (zeros by default) and f is tanh or ReLU. The output layer
    :math:`Y_t = f(W h_t + b_y)` is the task head's job, not this module's.

    Backpropagation through time (``bptt="manual"``) walks the steps in reverse. With
    :math:`a_t` the pre-activation and :math:`dy_t` the gradient reaching :math:`h_t` from above,

    .. math::
        da_t = (dy_t + da_{t+1} W_{hh}) \odot f'(a_t), \qquad
        dW_{hh} = \sum_t da_t^\top h_{t-1}, \quad dW_{ih} = \sum_t da_t^\top x_t, \quad
        db = \sum_t da_t, \quad dx_t = da_t W_{ih}

    each sum one matmul over all steps. ``bptt="autograd"`` leaves the same forward to autograd.

    Shapes (B batch, T steps, D = 2 if bidirectional else 1):
        - x: ``(B, T, input_size)``, batch first.
        - h0: ``(num_layers * D, B, hidden_size)``, optional.
        - lengths: ``(B,)`` integer tensor, each in ``[1, T]``, optional; steps past a sequence's
          length are padding.
        - output: ``(B, T, D * hidden_size)``, the last layer's :math:`h_t`; zeros at padding.
        - h_n: ``(num_layers * D, B, hidden_size)``, each sequence's state at its own last
          valid step (the reverse direction's at step 0).

    Args:
        input_size: features in ``x``.
        hidden_size: features in ``h``.
        num_layers: stacked layers, each reading the previous one's output.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        bias: if False, no ``b_ih`` and ``b_hh``.
        dropout: dropout probability on every layer's output except the last, in training.
        bidirectional: add a reverse direction to every layer; outputs are concatenated.
        bptt: ``"manual"`` (the hand-written backward) or ``"autograd"`` (the reference loop).
        init: ``"default"``: PyTorch's; ``"identity"``: the IRNN of Le, Jaitly & Hinton (2015),
            :math:`W_{hh} = s I` (``identity_scale`` s), :math:`W_{ih} \sim N(0, 0.001^2)`,
            zero biases, with which a ReLU RNN carries its state unchanged until the input moves
            it; ``"orthogonal"``: an orthogonal :math:`W_{hh}` (its gradient through time neither
            grows nor shrinks at init), the rest PyTorch's.

    Parameters are named and initialised like PyTorch's built-in RNN (``weight_ih_l{k}``,
    ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``..._reverse``, all
    uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) with ``init="default"``), so state_dicts
    move either way.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        bptt: str = "manual",
        init: str = "default",
        identity_scale: float = 1.0,
    ):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        if bptt not in ENGINES:
            raise ValueError(f"bptt must be one of {tuple(ENGINES)}, got {bptt!r}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout acts between layers; with num_layers=1 it does nothing", stacklevel=2
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.nonlinearity = nonlinearity
        self.bias = bias
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.bptt = bptt
        self.init = init
        self.identity_scale = float(identity_scale)
        self.num_directions = 2 if bidirectional else 1
        # diagnostics, off by default: see gradient_norms_through_time
        self.record_gradient_through_time = False
        self._kept_states: list[Tensor] = []

        # Parameter names as PyTorch's built-in RNN has them: (W_ih, W_hh, b_ih, b_hh) of each
        # direction of each layer.
        self._weight_names = [
            [
                (f"weight_ih{suffix}", f"weight_hh{suffix}", f"bias_ih{suffix}", f"bias_hh{suffix}")
                for suffix in (f"_l{layer}", f"_l{layer}_reverse")[: self.num_directions]
            ]
            for layer in range(num_layers)
        ]
        for layer, directions in enumerate(self._weight_names):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for w_ih, w_hh, b_ih, b_hh in directions:
                self.register_parameter(w_ih, nn.Parameter(torch.empty(hidden_size, layer_input)))
                self.register_parameter(w_hh, nn.Parameter(torch.empty(hidden_size, hidden_size)))
                if bias:
                    self.register_parameter(b_ih, nn.Parameter(torch.empty(hidden_size)))
                    self.register_parameter(b_hh, nn.Parameter(torch.empty(hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)
        for layer in range(self.num_layers):
            for w_ih, w_hh, b_ih, b_hh in self.layer_weights(layer):
                with torch.no_grad():
                    if self.init == "identity":
                        w_hh.copy_(self.identity_scale * torch.eye(self.hidden_size))
                        nn.init.normal_(w_ih, std=IDENTITY_INPUT_STD)
                        for bias in (b_ih, b_hh):
                            if bias is not None:
                                bias.zero_()
                    elif self.init == "orthogonal":
                        nn.init.orthogonal_(w_hh)

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

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        text += f", nonlinearity={self.nonlinearity!r}, bptt={self.bptt!r}"
        if self.init != "default":
            text += f", init={self.init!r}"
        if not self.bias:
            text += ", bias=False"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text

    def forward(
        self, x: Tensor, h0: Tensor | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``x (B, T, I)``, ``h0 (L*D, B, H)``, ``lengths (B,)`` -> ``(output, h_n)``."""
        self._check_input(x, h0)
        batch, seq_len, _ = x.shape
        if lengths is None:
            packing = Packing.full(batch, seq_len)
        else:
            packing = Packing.from_lengths(
                self._check_lengths(lengths, batch, seq_len), seq_len, x.device
            )

        layer_input = packing.sort(x.transpose(0, 1), dim=1)  # (T, B, I), time-major
        if h0 is None:
            h0_per_layer = [None] * self.num_layers  # zeros, made by each layer
        else:
            h0_per_layer = packing.sort(h0, dim=1).split(self.num_directions)
        run_layer = ENGINES[self.bptt]
        finals = []
        for layer, h0_layer in enumerate(h0_per_layer):
            arguments = (
                layer_input,
                h0_layer,
                packing,
                self.nonlinearity,
                self.layer_weights(layer),
            )
            if self.record_gradient_through_time and layer == self.num_layers - 1:
                # the reference engine keeps each step's state, so autograd can report dL/dh_t
                self._kept_states = []
                output, h_n = autograd_layer(*arguments, kept_states=self._kept_states)
            else:
                output, h_n = run_layer(*arguments)
            finals.append(h_n)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                output = F.dropout(output, self.dropout)
            layer_input = output
        output = packing.unsort(layer_input.transpose(0, 1))  # (B, T, D*H)
        h_n = packing.unsort(finals[0] if len(finals) == 1 else torch.cat(finals), dim=1)
        return output, h_n

    def gradient_norms_through_time(self) -> list[float]:
        """``||dL/dh_t||`` for t = 1..T: how much gradient BPTT brought back to each step.

        Set ``record_gradient_through_time = True`` before a forward; after its backward this
        gives one norm per step, over the batch and the hidden units, of the top layer (its
        forward direction). That forward ran the reference engine, which keeps every state.
        """
        return [0.0 if h_t.grad is None else float(h_t.grad.norm()) for h_t in self._kept_states]

    def _check_input(self, x: Tensor, h0: Tensor | None) -> None:
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
        if h0 is not None:
            expected = (self.num_layers * self.num_directions, x.shape[0], self.hidden_size)
            if tuple(h0.shape) != expected:
                raise ValueError(
                    f"h0 must be (num_layers * num_directions, batch, hidden_size) = {expected}, "
                    f"got {tuple(h0.shape)}"
                )

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
