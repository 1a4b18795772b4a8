"""The hand-written BPTT against numerical gradients (float64) and against autograd."""

import pytest
import torch
from torch.func import functional_call

from rnnpipe.rnn import VanillaRNN

LENGTHS = torch.tensor([2, 4, 1])


def make_inputs(rnn: VanillaRNN, steps: int, dtype=torch.float64):
    batch = len(LENGTHS)
    directions = 2 if rnn.bidirectional else 1
    x = torch.randn(batch, steps, rnn.input_size, dtype=dtype, requires_grad=True)
    h0 = torch.randn(rnn.num_layers * directions, batch, rnn.hidden_size, dtype=dtype)
    return x, h0.requires_grad_()


def gradcheck(rnn: VanillaRNN, lengths, fast_mode: bool) -> bool:
    """gradcheck of (output, h_n) with respect to x, h0 and every parameter."""
    names = [name for name, _ in rnn.named_parameters()]
    x, h0 = make_inputs(rnn, steps=4)

    def run(x, h0, *parameters):
        parameters = dict(zip(names, parameters, strict=True))
        return functional_call(rnn, parameters, (x, h0), {"lengths": lengths})

    return torch.autograd.gradcheck(run, (x, h0, *rnn.parameters()), fast_mode=fast_mode)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_manual_bptt_passes_gradcheck(nonlinearity, bidirectional, with_lengths):
    """Fast mode: the Jacobian along random directions, for every configuration."""
    torch.manual_seed(0)
    rnn = VanillaRNN(3, 4, num_layers=2, nonlinearity=nonlinearity, bidirectional=bidirectional)
    assert gradcheck(rnn.double(), LENGTHS if with_lengths else None, fast_mode=True)


def test_manual_bptt_passes_full_gradcheck():
    """Every entry of the Jacobian, for the configuration that exercises the most code."""
    torch.manual_seed(0)
    rnn = VanillaRNN(2, 3, num_layers=2, bidirectional=True)
    assert gradcheck(rnn.double(), LENGTHS, fast_mode=False)


@pytest.mark.parametrize("bias", [True, False])
def test_manual_and_autograd_engines_give_equal_gradients(bias):
    torch.manual_seed(0)
    manual = VanillaRNN(3, 5, num_layers=3, bias=bias, bidirectional=True, bptt="manual")
    reference = VanillaRNN(3, 5, num_layers=3, bias=bias, bidirectional=True, bptt="autograd")
    manual, reference = manual.double(), reference.double()
    reference.load_state_dict(manual.state_dict())
    x, h0 = make_inputs(manual, steps=6)

    grads = []
    for rnn in (manual, reference):
        output, h_n = rnn(x, h0, lengths=LENGTHS)
        loss = (output * torch.linspace(-1, 1, output.numel()).view_as(output)).sum() + h_n.sum()
        grads.append(torch.autograd.grad(loss, [x, h0, *rnn.parameters()]))
    for got, expected in zip(*grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bptt", ["manual", "autograd"])
def test_gradient_shared_with_another_consumer_is_left_intact(bptt):
    """y + w hands the same gradient tensor to y's backward and to w: it must not change."""
    rnn = VanillaRNN(3, 4, bptt=bptt)
    x = torch.randn(1, 5, 3)  # batch 1: the output's gradient arrives contiguous
    w = torch.zeros(1, 5, 4, requires_grad=True)
    upstream = torch.randn(1, 5, 4)
    output, _ = rnn(x)
    (output + w).backward(upstream)
    torch.testing.assert_close(w.grad, upstream, rtol=0, atol=0)


def test_dropout_acts_between_layers_in_training_only():
    torch.manual_seed(0)
    manual = VanillaRNN(3, 5, num_layers=2, dropout=0.5, bptt="manual")
    reference = VanillaRNN(3, 5, num_layers=2, dropout=0.5, bptt="autograd")
    reference.load_state_dict(manual.state_dict())
    no_dropout = VanillaRNN(3, 5, num_layers=2)
    no_dropout.load_state_dict(manual.state_dict())
    x = torch.randn(2, 6, 3, requires_grad=True)

    manual.eval()
    torch.testing.assert_close(manual(x)[0], no_dropout(x)[0])

    manual.train()
    runs = []
    for rnn in (manual, reference):
        torch.manual_seed(1)  # the same dropout mask for both engines
        output, _ = rnn(x)
        runs.append((output, torch.autograd.grad(output.sum(), [x, *rnn.parameters()])))
    (manual_output, manual_grads), (reference_output, reference_grads) = runs
    assert not torch.allclose(manual_output, no_dropout(x)[0])
    torch.testing.assert_close(manual_output, reference_output)
    for got, expected in zip(manual_grads, reference_grads, strict=True):
        torch.testing.assert_close(got, expected)


def test_double_backward_is_refused_clearly():
    rnn = VanillaRNN(3, 4)
    x = torch.randn(2, 3, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="not twice differentiable"):
        torch.autograd.grad(rnn(x)[0].sum(), x, create_graph=True)
