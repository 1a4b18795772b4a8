"""Truncated BPTT: the chunks, the carried state, where gradients stop, and the update itself."""

from __future__ import annotations

import copy

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from rnnpipe.rnn import VanillaRNN
from rnnpipe.training.tbptt import (
    TruncatedBPTT,
    chunk_of,
    rnn_over_chunk,
    time_chunks,
    truncated_bptt,
)

TIME_KEYS = ("x", "y")


@pytest.mark.parametrize(
    ("num_steps", "k"), [(10, 3), (10, 5), (10, 1), (10, 10), (10, 64), (1, 4), (7, None)]
)
def test_chunks_cover_every_step_once_in_order(num_steps, k):
    chunks = time_chunks(num_steps, k)
    steps = [step for chunk in chunks for step in range(chunk.start, chunk.stop)]
    assert steps == list(range(num_steps))  # no gap, no overlap, in order
    assert all(chunk.stop - chunk.start == k for chunk in chunks[:-1])
    assert 1 <= chunks[-1].stop - chunks[-1].start <= (k or num_steps)


@pytest.mark.parametrize("k", [0, -2, 2.5])
def test_chunk_length_must_be_a_positive_integer(k):
    with pytest.raises(ValueError, match="tbptt_steps must be a positive integer or null"):
        time_chunks(10, k)


def test_chunks_of_a_batch_put_back_together_are_the_batch():
    batch = {
        "x": torch.arange(2 * 7 * 3).view(2, 7, 3),
        "y": torch.arange(14).view(2, 7),
        "lengths": torch.tensor([7, 2]),
        "texts": ["a", "b"],
    }
    chunks = [chunk_of(batch, steps, TIME_KEYS) for steps in time_chunks(7, 3)]
    assert torch.equal(torch.cat([c["x"] for c in chunks], dim=1), batch["x"])
    assert torch.equal(torch.cat([c["y"] for c in chunks], dim=1), batch["y"])
    assert [c["lengths"].tolist() for c in chunks] == [[3, 2], [3, 0], [1, 0]]
    assert all(c["texts"] is batch["texts"] for c in chunks)


def make_rnn() -> VanillaRNN:
    torch.manual_seed(0)
    return VanillaRNN(3, 5)


def test_rnn_over_chunk_lets_rows_without_steps_keep_their_state():
    rnn = make_rnn()
    x, hidden = torch.randn(3, 4, 3), torch.randn(1, 3, 5)
    lengths = torch.tensor([4, 0, 2])
    output, h_n = rnn_over_chunk(rnn, x, hidden, lengths)
    expected_output, expected_h = rnn(x[[0, 2]], hidden[:, [0, 2]], lengths[[0, 2]])
    assert torch.equal(output[[0, 2]], expected_output)
    assert torch.equal(output[1], torch.zeros(4, 5))
    assert torch.equal(h_n[:, [0, 2]], expected_h)
    assert torch.equal(h_n[:, 1], hidden[:, 1])


def sequence_loss(rnn, head):
    """A chunk_step: regress y from the RNN's outputs; record every state it is handed."""
    received = []

    def chunk_step(chunk, hidden):
        received.append(hidden)
        output, hidden = rnn_over_chunk(rnn, chunk["x"], hidden, chunk.get("lengths"))
        valid = (torch.arange(output.shape[1]) < chunk["lengths"][:, None]).unsqueeze(-1)
        loss = ((head(output) - chunk["y"]) ** 2 * valid).sum() / valid.sum().clamp(min=1)
        return loss, hidden

    return chunk_step, received


def padded_batch():
    torch.manual_seed(1)
    return {
        "x": torch.randn(3, 10, 3, requires_grad=True),
        "y": torch.randn(3, 10, 1),
        "lengths": torch.tensor([10, 4, 7]),
    }


@pytest.mark.parametrize("k", [1, 3, 4, 10])
def test_the_state_is_carried_detached_and_the_forward_pass_is_unchanged(k):
    rnn, head = make_rnn(), nn.Linear(5, 1)
    batch = padded_batch()
    full_output, full_h = rnn(batch["x"], lengths=batch["lengths"])

    chunk_step, received = sequence_loss(rnn, head)
    outputs = []

    def remember_output(chunk, hidden):
        output, _ = rnn_over_chunk(rnn, chunk["x"], hidden, chunk["lengths"])
        outputs.append(output)
        return chunk_step(chunk, hidden)

    truncated_bptt(remember_output, batch, k, TIME_KEYS, update=lambda loss: None)
    assert received[0] is None  # the first chunk starts the module's own way
    # each later chunk starts from the state the one before it ended with: the stream goes on
    for chunk_number, hidden in enumerate(received[1:], start=1):
        stop = min(chunk_number * k, 10)
        _, h_at_boundary = rnn(
            batch["x"][:, :stop], lengths=batch["lengths"].clamp(max=stop).clamp(min=1)
        )
        assert hidden.grad_fn is None and not hidden.requires_grad
        assert torch.allclose(hidden, h_at_boundary, atol=1e-6)
    assert torch.allclose(torch.cat(outputs, dim=1), full_output, atol=1e-6)


def test_no_gradient_reaches_steps_before_the_chunk_boundary():
    rnn, head = make_rnn(), nn.Linear(5, 1)
    batch = padded_batch()
    chunk_step, _ = sequence_loss(rnn, head)
    gradients = []

    def update(loss):
        batch["x"].grad = None
        loss.backward()
        gradients.append(batch["x"].grad.abs().sum(dim=(0, 2)))  # per step

    truncated_bptt(chunk_step, batch, 4, TIME_KEYS, update)
    assert len(gradients) == 3
    for steps, per_step in zip(time_chunks(10, 4), gradients, strict=True):
        assert per_step[: steps.start].eq(0).all()  # nothing before the boundary
        assert per_step[steps].gt(0).any()
        assert per_step[steps.stop :].eq(0).all()

    gradients.clear()  # full BPTT: the same loss reaches back to the first step
    truncated_bptt(chunk_step, batch, None, TIME_KEYS, update)
    assert gradients[0][0] > 0


class Regressor(TruncatedBPTT, L.LightningModule):
    """The smallest module using the mixin: a VanillaRNN regressing y from x."""

    time_keys = TIME_KEYS

    def __init__(self, tbptt_steps, gradient_clip_val, lr=0.5, step_lr=False):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.rnn, self.head = make_rnn(), nn.Linear(5, 1)

    def chunk_step(self, chunk, hidden):
        output, hidden = rnn_over_chunk(self.rnn, chunk["x"], hidden, None)
        return F.mse_loss(self.head(output), chunk["y"]), hidden

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        if not self.hparams.step_lr:
            return optimizer
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)]


def fit(module, batches, epochs=1):
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, DataLoader(batches, batch_size=None))
    return trainer


def stream_batch():
    torch.manual_seed(2)
    return {"x": torch.randn(4, 9, 3), "y": torch.randn(4, 9, 1)}


def reference_update(module, batch, k, clip):
    """Truncated BPTT written out with plain torch: what one training batch must do."""
    optimizer = torch.optim.SGD(module.parameters(), lr=module.hparams.lr)
    hidden = None
    for start in range(0, 9, k):
        output, hidden = module.rnn(batch["x"][:, start : start + k], hidden)
        loss = F.mse_loss(module.head(output), batch["y"][:, start : start + k])
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), clip)
        optimizer.step()
        hidden = hidden.detach()


@pytest.mark.slow
@pytest.mark.parametrize("k", [9, 20, None])
def test_chunks_as_long_as_the_sequence_are_full_bptt(k):
    batch = stream_batch()
    module = Regressor(tbptt_steps=k, gradient_clip_val=0.05)
    full_bptt = copy.deepcopy(module)
    fit(module, [batch])
    reference_update(full_bptt, batch, k=9, clip=0.05)  # one chunk: the whole sequence
    for name, parameter in module.named_parameters():
        assert torch.allclose(parameter, full_bptt.get_parameter(name), atol=1e-6), name


@pytest.mark.slow
def test_shorter_chunks_update_once_per_chunk_from_the_carried_state():
    batch = stream_batch()
    module = Regressor(tbptt_steps=4, gradient_clip_val=0.05)
    expected, full_bptt = copy.deepcopy(module), copy.deepcopy(module)
    trainer = fit(module, [batch])
    assert trainer.global_step == 3  # chunks of 4, 4 and 1 steps
    reference_update(expected, batch, k=4, clip=0.05)
    reference_update(full_bptt, batch, k=9, clip=0.05)
    weight = module.rnn.weight_hh_l0
    assert torch.allclose(weight, expected.rnn.weight_hh_l0, atol=1e-6)
    assert not torch.allclose(weight, full_bptt.rnn.weight_hh_l0, atol=1e-3)


@pytest.mark.slow
def test_the_learning_rate_scheduler_steps_once_an_epoch():
    module = Regressor(tbptt_steps=4, gradient_clip_val=None, lr=0.4, step_lr=True)
    trainer = fit(module, [stream_batch()], epochs=2)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1)
