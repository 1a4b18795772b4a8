"""VanillaRNN against PyTorch's nn.RNN with the same weights: outputs, h_n and gradients."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnpipe.rnn import VanillaRNN

BATCH, STEPS, INPUT, HIDDEN = 4, 7, 5, 6
LENGTHS = torch.tensor([3, 7, 1, 5])  # unsorted, one full length, one single step
SORTED_LENGTHS = torch.tensor([7, 5, 5, 1])  # longest first, as a caller that sorts passes them


def reference_rnn(rnn: VanillaRNN) -> nn.RNN:
    """nn.RNN with the same configuration and the same weights as ``rnn``."""
    reference = nn.RNN(
        rnn.input_size,
        rnn.hidden_size,
        num_layers=rnn.num_layers,
        nonlinearity=rnn.nonlinearity,
        bias=rnn.bias,
        bidirectional=rnn.bidirectional,
        batch_first=True,
    ).to(next(rnn.parameters()).device)
    reference.load_state_dict(rnn.state_dict())
    return reference


def run_reference(reference: nn.RNN, x, h0, lengths):
    if lengths is None:
        return reference(x, h0)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    output, h_n = reference(packed, h0)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
    return output, h_n


def assert_parity(
    rnn: VanillaRNN, with_lengths: bool, with_h0: bool, device="cpu", atol=1e-5, lengths=LENGTHS
):
    """Same outputs, h_n and gradients (inputs, h0, every parameter) as nn.RNN."""
    torch.manual_seed(1)
    rnn = rnn.to(device)
    reference = reference_rnn(rnn)
    lengths = lengths if with_lengths else None
    x = torch.randn(BATCH, STEPS, rnn.input_size, device=device, requires_grad=True)
    directions = 2 if rnn.bidirectional else 1
    h0 = None
    if with_h0:
        h0 = torch.randn(rnn.num_layers * directions, BATCH, rnn.hidden_size, device=device)
        h0.requires_grad_()

    output, h_n = rnn(x, h0, lengths=lengths)
    expected_output, expected_h_n = run_reference(reference, x, h0, lengths)
    torch.testing.assert_close(output, expected_output, atol=atol, rtol=0)
    torch.testing.assert_close(h_n, expected_h_n, atol=atol, rtol=0)

    # A loss that reaches every output and every final state with different weights.
    grad_output, grad_h_n = torch.randn_like(output), torch.randn_like(h_n)
    inputs = [x] + ([h0] if with_h0 else [])
    got = torch.autograd.grad(
        (output * grad_output).sum() + (h_n * grad_h_n).sum(), inputs + list(rnn.parameters())
    )
    expected = torch.autograd.grad(
        (expected_output * grad_output).sum() + (expected_h_n * grad_h_n).sum(),
        inputs + list(reference.parameters()),
    )
    names = ["x"] + (["h0"] if with_h0 else []) + [name for name, _ in rnn.named_parameters()]
    for name, g, e in zip(names, got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=atol, rtol=0, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("bptt", ["manual", "autograd"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_matches_builtin_rnn(bptt, nonlinearity, num_layers, bidirectional, with_lengths):
    torch.manual_seed(0)
    rnn = VanillaRNN(
        INPUT, HIDDEN, num_layers, nonlinearity, bidirectional=bidirectional, bptt=bptt
    )
    assert_parity(rnn, with_lengths, with_h0=num_layers != 1)


@pytest.mark.parametrize("bptt", ["manual", "autograd"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_matches_builtin_rnn_with_h0_and_no_bias(bptt, bidirectional):
    torch.manual_seed(0)
    rnn = VanillaRNN(INPUT, HIDDEN, 2, bias=False, bidirectional=bidirectional, bptt=bptt)
    assert_parity(rnn, with_lengths=True, with_h0=True)


@pytest.mark.parametrize("bptt", ["manual", "autograd"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_lengths_already_sorted_skip_the_sort_and_still_match(bptt, bidirectional):
    torch.manual_seed(0)
    rnn = VanillaRNN(INPUT, HIDDEN, 2, bidirectional=bidirectional, bptt=bptt)
    assert_parity(rnn, with_lengths=True, with_h0=True, lengths=SORTED_LENGTHS)


@pytest.mark.parametrize("bptt", ["manual", "autograd"])
def test_lengths_shorter_than_padding_give_zero_tail(bptt):
    """Padding past the longest sequence: zero outputs, h_n from each own last step."""
    torch.manual_seed(0)
    rnn = VanillaRNN(INPUT, HIDDEN, bidirectional=True, bptt=bptt)
    x = torch.randn(2, 6, INPUT)
    lengths = torch.tensor([2, 4])
    output, h_n = rnn(x, lengths=lengths)
    assert torch.all(output[:, 4:] == 0) and torch.all(output[0, 2:] == 0)
    short_output, short_h_n = rnn(x[:1, :2])
    torch.testing.assert_close(output[:1, :2], short_output)
    torch.testing.assert_close(h_n[:, :1], short_h_n)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("bptt", ["manual", "autograd"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_matches_builtin_rnn_on_cuda(bptt, bidirectional, with_lengths):
    torch.manual_seed(0)
    rnn = VanillaRNN(INPUT, HIDDEN, 2, bidirectional=bidirectional, bptt=bptt)
    # cuDNN sums in a different order than the CPU; TF32 off keeps both in full float32.
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        assert_parity(rnn, with_lengths, with_h0=True, device="cuda", atol=1e-4)
