"""The benchmarks' reference: a task model whose recurrent layers are PyTorch's own RNNs.

``torch_twin(model)`` deep-copies a task module and replaces each of its rnnpipe recurrent
layers with :class:`TorchRecurrent`, a wrapper around ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM``
holding the same weights (the parameter names are PyTorch's on both sides) and keeping
rnnpipe's contract: ``(x (B, T, I), h0, lengths) -> (output, final state)``, variable lengths
through ``pack_padded_sequence``. Everything else in the twin is the same code, so a ratio
between the two is the recurrent layers' share of the whole pipeline.

It lives outside ``src/``, which may not use PyTorch's RNNs.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnpipe.rnn import GRU, LSTM, RecurrentLayer, VanillaRNN

BUILT_INS = {VanillaRNN: nn.RNN, GRU: nn.GRU, LSTM: nn.LSTM}


class TorchRecurrent(nn.Module):
    """PyTorch's RNN behind rnnpipe's recurrent-layer interface, with ``layer``'s weights."""

    def __init__(self, layer: RecurrentLayer):
        super().__init__()
        options = {"nonlinearity": layer.nonlinearity} if isinstance(layer, VanillaRNN) else {}
        self.inner = BUILT_INS[type(layer)](
            layer.input_size,
            layer.hidden_size,
            num_layers=layer.num_layers,
            bias=layer.bias,
            batch_first=True,
            dropout=layer.dropout,
            bidirectional=layer.bidirectional,
            **options,
        )
        self.inner.load_state_dict(layer.state_dict())
        self.inner.to(layer.weight_ih_l0)
        for name in ("input_size", "hidden_size", "num_layers", "num_directions", "state_size"):
            setattr(self, name, getattr(layer, name))

    zero_state = RecurrentLayer.zero_state  # needs only the sizes, copied above

    def forward(
        self, x: Tensor, h0: Tensor | tuple[Tensor, Tensor] | None = None, lengths=None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        if lengths is None:
            return self.inner(x, h0)
        packed = pack_padded_sequence(
            x, torch.as_tensor(lengths).cpu(), batch_first=True, enforce_sorted=False
        )
        output, final = self.inner(packed, h0)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
        return output, final


def torch_twin(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every rnnpipe recurrent layer replaced by its PyTorch twin."""
    twin = copy.deepcopy(model)
    layers = [(name, m) for name, m in twin.named_modules() if isinstance(m, RecurrentLayer)]
    for name, layer in layers:
        parent_name, _, attribute = name.rpartition(".")
        parent = twin.get_submodule(parent_name) if parent_name else twin
        setattr(parent, attribute, TorchRecurrent(layer))
    return twin
