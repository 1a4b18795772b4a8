"""The vanilla RNN module: a drop-in for PyTorch's built-in RNN with ``batch_first=True``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnpipe.rnn.bptt import ACTIVATIONS, autograd_layer, manual_layer
from rnnpipe.rnn.layer import RecurrentLayer, State, Weights
from rnnpipe.rnn.packing import Packing

ENGINES = {"manual": manual_layer, "autograd": autograd_layer}
NONLINEARITIES = ("tanh", "relu")
INITS = ("default", "identity", "orthogonal")
IDENTITY_INPUT_STD = 0.001  # Le et al. (2015): W_ih ~ N(0, 0.001^2) beside W_hh = scale * I


class VanillaRNN(RecurrentLayer):
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
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        if bptt not in ENGINES:
            raise ValueError(f"bptt must be one of {tuple(ENGINES)}, got {bptt!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional)
        self.nonlinearity = nonlinearity
        self.bptt = bptt
        self.init = init
        self.identity_scale = float(identity_scale)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
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

    def run_layer(
        self, layer: int, x: Tensor, state0: State | None, packing: Packing, keep: bool
    ) -> tuple[Tensor, State]:
        arguments = (
            x,
            None if state0 is None else state0[0],
            packing,
            self.nonlinearity,
            self.layer_weights(layer),
        )
        if keep:  # the reference engine keeps each step's state, so autograd can report dL/dh_t
            output, h_n = autograd_layer(*arguments, kept_states=self._kept_states)
        else:
            output, h_n = ENGINES[self.bptt](*arguments)
        return output, (h_n,)

    def cell_step(self, x_t: Tensor, state: State, weights: Weights) -> State:
        """h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""
        w_ih, w_hh, b_ih, b_hh = weights
        (h,) = state
        a_t = F.linear(x_t, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
        return (ACTIVATIONS[self.nonlinearity](a_t),)

    def cell_repr(self) -> str:
        text = f", nonlinearity={self.nonlinearity!r}, bptt={self.bptt!r}"
        return text + (f", init={self.init!r}" if self.init != "default" else "")
