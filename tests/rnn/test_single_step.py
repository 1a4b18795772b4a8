"""One step without lengths, the decoders' call, takes a fast path: it must equal the general
path (the same step run through packing, forced by passing lengths), gradients included."""

import pytest
import torch

from rnnpipe.rnn import GRU, LSTM, VanillaRNN

CELLS = {
    "tanh": lambda **kw: VanillaRNN(5, 6, nonlinearity="tanh", **kw),
    "relu": lambda **kw: VanillaRNN(5, 6, nonlinearity="relu", **kw),
    "gru": lambda **kw: GRU(5, 6, **kw),
    "lstm": lambda **kw: LSTM(5, 6, **kw),
}


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-way", "bidirectional"])
@pytest.mark.parametrize("with_h0", [False, True], ids=["zeros", "h0"])
def test_one_step_equals_the_general_path(cell, bidirectional, with_h0):
    torch.manual_seed(0)
    rnn = CELLS[cell](num_layers=2, bidirectional=bidirectional)
    x = torch.randn(3, 1, 5, requires_grad=True)
    h0 = None
    if with_h0:
        shape = (2 * (2 if bidirectional else 1), 3, 6)
        h0 = tuple(torch.randn(shape) for _ in range(rnn.state_size))
        h0 = h0 if cell == "lstm" else h0[0]
    fast_output, fast_state = rnn(x, h0)
    general_output, general_state = rnn(x, h0, lengths=torch.ones(3, dtype=torch.long))
    torch.testing.assert_close(fast_output, general_output)
    for fast, general in zip(as_tuple(fast_state), as_tuple(general_state), strict=True):
        torch.testing.assert_close(fast, general)

    def gradients(output, state):
        loss = output.pow(2).sum() + sum(s.sum() for s in as_tuple(state))
        return torch.autograd.grad(loss, [x, *rnn.parameters()])

    for fast, general in zip(
        gradients(*rnn(x, h0)),
        gradients(*rnn(x, h0, lengths=torch.ones(3, dtype=torch.long))),
        strict=True,
    ):
        torch.testing.assert_close(fast, general)
