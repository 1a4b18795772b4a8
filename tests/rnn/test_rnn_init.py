"""``init``: PyTorch's by default (the same draws as nn.RNN's), the IRNN's exact scale * I, or an
orthogonal W_hh; an unknown name is refused."""

import pytest
import torch
from torch import nn

from rnnpipe.rnn import VanillaRNN

CONFIG = dict(num_layers=2, bidirectional=True)


def test_the_default_is_the_builtins_initialisation_draw_for_draw():
    torch.manual_seed(3)
    ours = VanillaRNN(5, 7, **CONFIG)
    torch.manual_seed(3)
    builtin = nn.RNN(5, 7, batch_first=True, **CONFIG)
    for (name, mine), (_, theirs) in zip(
        ours.named_parameters(), builtin.named_parameters(), strict=True
    ):
        assert torch.equal(mine, theirs), name


def test_identity_init_is_exactly_scale_times_identity_with_small_inputs_and_no_bias():
    rnn = VanillaRNN(5, 7, nonlinearity="relu", init="identity", identity_scale=0.25, **CONFIG)
    for layer in range(2):
        for w_ih, w_hh, b_ih, b_hh in rnn.layer_weights(layer):
            assert torch.equal(w_hh, 0.25 * torch.eye(7))
            assert torch.equal(b_ih, torch.zeros(7)) and torch.equal(b_hh, torch.zeros(7))
            assert 0 < float(w_ih.abs().max()) < 0.01  # N(0, 0.001^2): small, not zero


def test_a_relu_irnn_keeps_its_state_while_the_input_is_zero():
    rnn = VanillaRNN(3, 4, nonlinearity="relu", init="identity")
    h0 = torch.rand(1, 2, 4)
    _, h_n = rnn(torch.zeros(2, 50, 3), h0)
    assert torch.equal(h_n, h0)  # the memory the adding problem needs


def test_orthogonal_init_gives_an_orthogonal_recurrent_matrix():
    rnn = VanillaRNN(5, 7, init="orthogonal", **CONFIG)
    for layer in range(2):
        for _, w_hh, _, _ in rnn.layer_weights(layer):
            torch.testing.assert_close(w_hh @ w_hh.T, torch.eye(7), atol=1e-5, rtol=0)


def test_an_unknown_init_is_refused():
    with pytest.raises(ValueError, match=r"init must be one of \('default', 'identity'"):
        VanillaRNN(5, 7, init="xavier")
