"""The hand-written GRU and LSTM against nn.GRU and nn.LSTM with copied weights: outputs, final
states and every gradient, with variable lengths (as packing), both directions and given initial
states; gradcheck in float64; state_dicts both ways; bptt=manual refused."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnpipe.rnn import GRU, LSTM

BATCH, STEPS, INPUT, HIDDEN = 4, 7, 5, 6
LENGTHS = torch.tensor([3, 7, 1, 5])  # unsorted, one full length, one single step
BUILTIN = {GRU: nn.GRU, LSTM: nn.LSTM}
CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=2, bias=False),
    dict(num_layers=3, bidirectional=True, bias=False),
]


def builtin_twin(rnn):
    twin = BUILTIN[type(rnn)](
        rnn.input_size, rnn.hidden_size, num_layers=rnn.num_layers, bias=rnn.bias,
        bidirectional=rnn.bidirectional, batch_first=True,
    )  # fmt: skip
    twin.load_state_dict(rnn.state_dict())  # strict: the same names and shapes
    return twin


def run_builtin(twin, x, state, lengths):
    if lengths is None:
        return twin(x, state)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    output, final = twin(packed, state)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
    return output, final


def as_tuple(final):
    return final if isinstance(final, tuple) else (final,)


@pytest.mark.parametrize("cell", [GRU, LSTM])
@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_outputs_states_and_gradients_match_the_builtin(cell, config, with_lengths):
    torch.manual_seed(0)
    rnn = cell(INPUT, HIDDEN, **config)
    twin = builtin_twin(rnn)
    directions = 2 if rnn.bidirectional else 1
    x = torch.randn(BATCH, STEPS, INPUT, requires_grad=True)
    state = tuple(
        torch.randn(rnn.num_layers * directions, BATCH, HIDDEN, requires_grad=True)
        for _ in range(rnn.state_size)
    )
    given = state[0] if cell is GRU else state
    lengths = LENGTHS if with_lengths else None

    output, final = rnn(x, given, lengths=lengths)
    expected_output, expected_final = run_builtin(twin, x, given, lengths)
    torch.testing.assert_close(output, expected_output, atol=1e-5, rtol=0)
    for mine, theirs in zip(as_tuple(final), as_tuple(expected_final), strict=True):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)

    weights = [torch.randn_like(output)] + [torch.randn_like(s) for s in as_tuple(final)]

    def loss(out, fin):
        return sum((t * w).sum() for t, w in zip((out, *as_tuple(fin)), weights, strict=True))

    inputs = [x, *state]
    got = torch.autograd.grad(loss(output, final), inputs + list(rnn.parameters()))
    expected = torch.autograd.grad(
        loss(expected_output, expected_final), inputs + list(twin.parameters())
    )
    for mine, theirs in zip(got, expected, strict=True):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", [GRU, LSTM])
def test_gradcheck_in_float64(cell):
    torch.manual_seed(1)
    rnn = cell(2, 3, num_layers=2, bidirectional=True).double()
    x = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 1, 3])

    def outputs(x, *parameters):
        names = [name for name, _ in rnn.named_parameters()]
        values = dict(zip(names, parameters, strict=True))
        output, final = torch.func.functional_call(rnn, values, (x,), {"lengths": lengths})
        return (output, *as_tuple(final))

    assert torch.autograd.gradcheck(outputs, (x, *rnn.parameters()), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("cell", [GRU, LSTM])
def test_state_dicts_load_both_ways_and_the_default_init_is_the_builtins(cell):
    torch.manual_seed(2)
    rnn = cell(INPUT, HIDDEN, num_layers=2, bidirectional=True)
    torch.manual_seed(2)
    twin = BUILTIN[cell](INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)
    for (name, mine), (_, theirs) in zip(
        rnn.named_parameters(), twin.named_parameters(), strict=True
    ):
        assert torch.equal(mine, theirs), name
    back = cell(INPUT, HIDDEN, num_layers=2, bidirectional=True)
    back.load_state_dict(twin.state_dict())


@pytest.mark.parametrize("cell", [GRU, LSTM])
def test_the_manual_engine_is_the_vanilla_rnns_alone(cell):
    with pytest.raises(ValueError, match=r"bptt='manual': the hand-written BPTT engine is the"):
        cell(INPUT, HIDDEN, bptt="manual")


def test_the_lstm_state_is_a_pair_and_a_wrong_one_is_named():
    lstm = LSTM(INPUT, HIDDEN)
    x = torch.randn(2, 3, INPUT)
    _, (h_n, c_n) = lstm(x)
    assert h_n.shape == c_n.shape == (1, 2, HIDDEN)
    with pytest.raises(ValueError, match="the initial state must be h0, c0, got 1"):
        lstm(x, (torch.zeros(1, 2, HIDDEN),))
