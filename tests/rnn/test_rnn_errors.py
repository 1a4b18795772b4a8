"""Bad arguments and bad inputs fail early with a message that says what was expected."""

import pytest
import torch

from rnnpipe.rnn import VanillaRNN


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(nonlinearity="sigmoid"), "nonlinearity must be one of"),
        (dict(bptt="truncated"), "bptt must be one of"),
        (dict(num_layers=0), "num_layers must be a positive integer"),
        (dict(dropout=1.5), r"dropout must be a probability in \[0, 1\]"),
        (dict(hidden_size=0), "hidden_size must be a positive integer"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    arguments = dict(input_size=3, hidden_size=4) | kwargs
    with pytest.raises(ValueError, match=message):
        VanillaRNN(**arguments)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="dropout acts between layers"):
        VanillaRNN(3, 4, dropout=0.2)


@pytest.fixture
def rnn():
    return VanillaRNN(3, 4, num_layers=2)


def test_x_must_be_three_dimensional(rnn):
    with pytest.raises(ValueError, match=r"x must be 3-dimensional \(batch, steps, input_size\)"):
        rnn(torch.randn(5, 3))


def test_x_needs_at_least_one_step(rnn):
    with pytest.raises(ValueError, match="x has no time steps"):
        rnn(torch.randn(2, 0, 3))


def test_x_features_must_match_input_size(rnn):
    with pytest.raises(ValueError, match="x has 6 features per step, expected input_size=3"):
        rnn(torch.randn(2, 5, 6))


def test_x_dtype_must_match_parameters(rnn):
    with pytest.raises(ValueError, match="x is torch.float64 on cpu but the parameters are"):
        rnn(torch.randn(2, 5, 3, dtype=torch.float64))


def test_h0_shape_is_checked(rnn):
    with pytest.raises(ValueError, match=r"h0 must be .* = \(2, 2, 4\), got \(1, 2, 4\)"):
        rnn(torch.randn(2, 5, 3), torch.zeros(1, 2, 4))


@pytest.mark.parametrize("lengths", [[0, 5], [5, 6], [-1, 2]])
def test_lengths_out_of_range(rnn, lengths):
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\]"):
        rnn(torch.randn(2, 5, 3), lengths=torch.tensor(lengths))


def test_lengths_one_per_sequence(rnn):
    with pytest.raises(ValueError, match=r"lengths must be \(2,\), one per sequence, got \(3,\)"):
        rnn(torch.randn(2, 5, 3), lengths=torch.tensor([1, 2, 3]))


def test_lengths_must_be_integers(rnn):
    with pytest.raises(TypeError, match="lengths must be an integer tensor"):
        rnn(torch.randn(2, 5, 3), lengths=torch.tensor([1.0, 2.0]))
