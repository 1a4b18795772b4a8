"""The adding problem's data: deterministic per seed, exactly two markers (one per half), targets
the sum of the marked values, and a trivial MSE that matches its closed form, 1/6."""

from __future__ import annotations

import pytest
import torch
from conftest import build_datamodule

from rnnpipe.tasks.adding.data import TRIVIAL_MSE, adding_examples


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    x, y = adding_examples(50, 30, seed=4)
    again_x, again_y = adding_examples(50, 30, seed=4)
    assert torch.equal(x, again_x) and torch.equal(y, again_y)
    assert not torch.equal(x, adding_examples(50, 30, seed=5)[0])


def test_two_markers_one_in_each_half_and_the_target_is_their_sum():
    x, y = adding_examples(2000, 31, seed=0)
    values, marker = x[..., 0], x[..., 1]
    assert torch.equal(marker.sum(1), torch.full((2000,), 2.0))
    assert torch.equal(marker[:, :15].sum(1), torch.ones(2000))  # first half: steps 0..14
    assert ((values >= 0) & (values < 1)).all()
    torch.testing.assert_close(y, (values * marker).sum(1))


def test_predicting_one_scores_the_closed_form_trivial_mse():
    _, y = adding_examples(100_000, 20, seed=1)
    assert float(((y - 1) ** 2).mean()) == pytest.approx(TRIVIAL_MSE, abs=0.003)  # 2/12
    assert float(y.mean()) == pytest.approx(1.0, abs=0.005)


def test_the_datamodule_splits_draw_apart_and_batch_the_two_channels():
    datamodule = build_datamodule(
        "adding", steps=12, train_size=40, val_size=8, test_size=8, batch_size=5
    )
    datamodule.setup("fit")
    assert [len(datamodule.splits[s]) for s in ("train", "val", "test")] == [40, 8, 8]
    train_x = torch.stack([x for x, _ in datamodule.splits["train"][:8]])
    val_x = torch.stack([x for x, _ in datamodule.splits["val"]])
    assert not torch.equal(train_x, val_x)  # each split its own stream
    batch = next(iter(datamodule.val_dataloader()))
    assert batch["x"].shape == (5, 12, 2) and batch["y"].shape == (5,)
    assert datamodule.input_files() == {}  # generated: no file to record
    with pytest.raises(ValueError, match="steps must be at least 2"):
        adding_examples(3, 1, seed=0)
