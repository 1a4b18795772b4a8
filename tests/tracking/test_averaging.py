"""Checkpoint averaging: k identical checkpoints average to that checkpoint, two to their mean."""

from __future__ import annotations

import shutil

import torch
from conftest import built_on_sample, write_checkpoint

from rnnpipe.cli import average
from rnnpipe.tasks.registry import load_checkpoint
from rnnpipe.tracking.averaging import average_checkpoints

SIZES = ("model.hidden_size=8", "model.embedding_dim=8")
REVIEWS = ["The pasta was superb.", "Cold soup and a rude waiter."]


def test_the_average_of_identical_checkpoints_is_that_checkpoint(cli, tmp_path):
    torch.manual_seed(0)
    model = built_on_sample("sentiment", *SIZES)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    original = write_checkpoint(model, folder / "epoch000.ckpt")
    for name in ("epoch001.ckpt", "epoch002.ckpt"):
        shutil.copy(original, folder / name)
    torch.manual_seed(1)  # last.ckpt is a copy of the newest state, never averaged in
    write_checkpoint(built_on_sample("sentiment", *SIZES), folder / "last.ckpt")

    output = tmp_path / "averaged.ckpt"
    status, stderr, _ = cli(average.main, f"checkpoints={folder}", f"output_path={output}")
    assert status == 0, stderr
    averaged = load_checkpoint(output)
    expected = model.state_dict()
    assert averaged.state_dict().keys() == expected.keys()
    for name, value in averaged.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert averaged.predict_texts(REVIEWS).equals(model.eval().predict_texts(REVIEWS))

    # an existing output is never replaced
    status, _, errors = cli(average.main, f"checkpoints={folder}", f"output_path={output}")
    assert (status, errors) == (
        1,
        [f"error: output_path={output}: expected a new file, got an existing one"],
    )


def test_the_average_of_two_checkpoints_is_their_mean(tmp_path):
    torch.manual_seed(0)
    first = write_checkpoint(built_on_sample("sentiment", *SIZES), tmp_path / "a.ckpt")
    torch.manual_seed(1)
    second = write_checkpoint(built_on_sample("sentiment", *SIZES), tmp_path / "b.ckpt")
    a, b = (torch.load(p, weights_only=True)["state_dict"] for p in (first, second))
    averaged = average_checkpoints([first, second])
    assert "optimizer_states" not in averaged
    for name, value in averaged["state_dict"].items():
        if value.is_floating_point():
            assert torch.equal(value, (a[name] + b[name]) / 2), name
        else:
            assert torch.equal(value, a[name]), name
    assert not torch.equal(a["rnn.weight_hh_l0"], b["rnn.weight_hh_l0"])


def test_checkpoints_of_another_model_are_refused_in_one_line(cli, tmp_path):
    sentiment = write_checkpoint(built_on_sample("sentiment", *SIZES), tmp_path / "a.ckpt")
    wider = write_checkpoint(
        built_on_sample("sentiment", "model.hidden_size=4", "model.embedding_dim=8"),
        tmp_path / "b.ckpt",
    )
    status, _, errors = cli(
        average.main, f"checkpoints=[{sentiment},{wider}]", f"output_path={tmp_path}/avg.ckpt"
    )
    assert (status, errors) == (1, [
        f"error: {wider}: expected a checkpoint of the same model as {sentiment}, got one with "
        "other parameters or parameter shapes"
    ])  # fmt: skip
    assert not (tmp_path / "avg.ckpt").exists()
