"""Parameters named, shaped and initialised like nn.RNN's, so state_dicts move either way."""

import math

import pytest
import torch
from torch import nn

from rnnpipe.rnn import VanillaRNN

CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=3, bias=False),
    dict(num_layers=2, bias=False, bidirectional=True, nonlinearity="relu"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_parameters_match_builtin_names_and_shapes(config):
    ours = VanillaRNN(5, 7, **config)
    builtin = nn.RNN(5, 7, batch_first=True, **config)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in builtin.named_parameters()
    ]


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_state_dict_round_trips_both_ways(config):
    ours = VanillaRNN(5, 7, **config)
    builtin = nn.RNN(5, 7, batch_first=True, **config)
    x = torch.randn(2, 4, 5)

    ours.load_state_dict(builtin.state_dict())  # strict: same keys, same shapes
    torch.testing.assert_close(ours(x), builtin(x), atol=1e-6, rtol=0)

    back = nn.RNN(5, 7, batch_first=True, **config)
    back.load_state_dict(ours.state_dict())
    for key, value in builtin.state_dict().items():
        assert torch.equal(back.state_dict()[key], value)


def test_bias_false_has_no_bias_parameters():
    rnn = VanillaRNN(5, 7, num_layers=2, bias=False, bidirectional=True)
    assert not [name for name, _ in rnn.named_parameters() if "bias" in name]
    output, h_n = rnn(torch.zeros(2, 3, 5))
    assert torch.all(output == 0) and torch.all(h_n == 0)  # no bias: zeros stay zeros


def test_initialised_uniform_within_one_over_sqrt_hidden():
    torch.manual_seed(0)
    rnn = VanillaRNN(50, 64, num_layers=2, bidirectional=True)
    bound = 1 / math.sqrt(64)
    values = torch.cat([p.detach().flatten() for p in rnn.parameters()])
    assert values.abs().max() <= bound
    assert values.abs().max() > 0.95 * bound  # spread over the whole range
    assert abs(values.mean()) < 0.1 * bound
