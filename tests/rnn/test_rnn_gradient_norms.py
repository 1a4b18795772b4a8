"""VanillaRNN.gradient_norms_through_time: BPTT's dL/dh_t per step, on known answers."""

from __future__ import annotations

import pytest
import torch

from rnnpipe.rnn import VanillaRNN


def linear_rnn(bptt: str) -> VanillaRNN:
    """h_t = relu(x_t + 0.5 h_{t-1}): with positive inputs, a linear recurrence."""
    rnn = VanillaRNN(1, 1, nonlinearity="relu", bias=False, bptt=bptt)
    with torch.no_grad():
        rnn.weight_ih_l0.fill_(1.0)
        rnn.weight_hh_l0.fill_(0.5)
    return rnn


@pytest.mark.parametrize("bptt", ["manual", "autograd"])
def test_the_gradient_halves_at_every_step_back(bptt):
    rnn = linear_rnn(bptt)
    rnn.record_gradient_through_time = True
    output, _ = rnn(torch.ones(1, 4, 1, requires_grad=True))
    output[0, -1, 0].backward()  # the loss reads h_4 only: dL/dh_t = 0.5 ** (4 - t)
    assert rnn.gradient_norms_through_time() == pytest.approx([0.125, 0.25, 0.5, 1.0])


def test_recording_changes_no_gradient_and_covers_the_top_layer_only():
    torch.manual_seed(0)
    recorded = VanillaRNN(3, 5, num_layers=2, bidirectional=True)
    plain = VanillaRNN(3, 5, num_layers=2, bidirectional=True)
    plain.load_state_dict(recorded.state_dict())
    recorded.record_gradient_through_time = True
    x = torch.randn(4, 6, 3)
    lengths = torch.tensor([6, 2, 4, 5])
    for rnn in (recorded, plain):
        output, h_n = rnn(x, lengths=lengths)
        (output.square().sum() + h_n.sum()).backward()
    for (name, a), b in zip(recorded.named_parameters(), plain.parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-5), name
    norms = recorded.gradient_norms_through_time()
    assert len(norms) == 6 and all(n > 0 for n in norms)


def test_no_recording_unless_asked():
    rnn = linear_rnn("manual")
    output, _ = rnn(torch.ones(1, 3, 1))
    output.sum().backward()
    assert rnn.gradient_norms_through_time() == []
