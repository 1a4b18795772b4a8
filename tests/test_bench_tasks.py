"""The pipeline benchmark: its nn.RNN twin is the same model, and its command writes both
variants' figures and their ratios."""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from conftest import build_model

from rnnpipe.config import PROJECT_ROOT
from rnnpipe.rnn import RecurrentLayer

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
from torch_rnn_twin import TorchRecurrent, torch_twin  # noqa: E402


def test_the_twin_computes_what_the_model_computes_on_pytorchs_rnn():
    model = build_model(
        "translation",
        "model.num_layers=2",
        source_vocab_size=20,
        target_vocab_size=15,
        pad_id=0,
        bos_id=2,
        eos_id=3,
        dropout=0.0,
    ).eval()
    twin = torch_twin(model)
    assert not any(isinstance(m, RecurrentLayer) for m in twin.modules())
    assert isinstance(twin.encoder, TorchRecurrent) and isinstance(twin.decoder, TorchRecurrent)
    torch.manual_seed(0)
    source = torch.randint(4, 20, (3, 6))
    source_lengths = torch.tensor([6, 2, 4])
    target_in = torch.randint(4, 15, (3, 5))
    target_lengths = torch.tensor([5, 5, 3])
    ours, _ = model(source, source_lengths, target_in, target_lengths)
    theirs, _ = twin(source, source_lengths, target_in, target_lengths)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    assert model.best_translations(source, source_lengths, beam_size=3) == twin.best_translations(
        source, source_lengths, beam_size=3
    )


def test_the_benchmark_command_reports_both_variants_and_their_ratio(tmp_path):
    output = tmp_path / "tasks.json"
    subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "bench_tasks.py"), "--tasks",
         "sentiment", "--rounds", "1", "--steps", "2", "--warmup", "1", "--inputs", "8",
         "--output", str(output)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    [result] = json.loads(output.read_text())["tasks"]
    assert result["task"] == "sentiment"
    names = {"train_steps_per_s", "train_tokens_per_s", "val_seconds_per_epoch"}
    names.add("predict_inputs_per_s")
    for variant in ("rnnpipe", "nn.RNN"):
        assert set(result["figures"][variant]) == names
        assert all(value > 0 for value in result["figures"][variant].values())
    figures = result["figures"]
    speed = figures["rnnpipe"]["train_steps_per_s"] / figures["nn.RNN"]["train_steps_per_s"]
    assert result["ratio"]["train_steps_per_s"] == speed
