"""The copy-memory data: deterministic per seed, the layout of Arjovsky et al. (symbols, blanks,
one delimiter, blanks; targets blank until the symbols come back), and the memoryless baseline."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import build_datamodule

from rnnpipe.tasks.copy_memory.data import BLANK, DELIMITER, copy_examples, memoryless_loss


def test_the_layout_of_inputs_and_targets():
    inputs, targets = copy_examples(500, delay=7, symbols=3, seed=0)
    assert inputs.shape == targets.shape == (500, 7 + 2 * 3)
    remembered = inputs[:, :3]
    assert ((remembered >= 1) & (remembered <= 8)).all()
    assert (inputs[:, 3:9] == BLANK).all() and (inputs[:, 9] == DELIMITER).all()
    assert (inputs[:, 10:] == BLANK).all()
    assert (targets[:, :10] == BLANK).all()
    assert torch.equal(targets[:, 10:], remembered)  # the symbols, in order, after the delimiter
    assert torch.equal(inputs, copy_examples(500, delay=7, symbols=3, seed=0)[0])
    assert not torch.equal(inputs, copy_examples(500, delay=7, symbols=3, seed=1)[0])


def test_the_memoryless_baseline_is_what_a_blank_then_uniform_guess_scores():
    _, targets = copy_examples(2000, delay=100, symbols=10, seed=2)
    per_step = torch.where(targets == BLANK, 0.0, -torch.log(torch.tensor(1 / 8)))
    assert float(per_step.mean()) == pytest.approx(memoryless_loss(100, 10))
    assert memoryless_loss(100, 10) == pytest.approx(10 * math.log(8) / 120)
    counts = torch.bincount(targets[:, -10:].flatten(), minlength=9)[1:]
    assert (counts / counts.sum() - 1 / 8).abs().max() < 0.02  # each symbol equally likely


def test_the_datamodule_hands_the_sizes_to_the_model():
    datamodule = build_datamodule(
        "copy_memory", delay=5, symbols=2, train_size=30, val_size=6, test_size=6, batch_size=4
    )
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["inputs"].shape == batch["targets"].shape == (4, 9)
    assert datamodule.model_kwargs() == {"symbols": 2, "delay": 5}
    with pytest.raises(ValueError, match="delay and symbols must be positive"):
        copy_examples(2, delay=0, symbols=2, seed=0)
