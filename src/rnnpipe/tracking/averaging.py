"""Checkpoint averaging: one checkpoint whose parameters are the mean of several of one run's.

The last or best k checkpoints of a run (``callbacks.model_checkpoint.save_top_k=k``) lie near
one another late in training; their mean usually scores at least as well as the best of them,
for the cost of one file. The result loads like any checkpoint (``rnnpipe-evaluate`` scores it,
``rnnpipe-predict`` and the pyfunc serve it): it is the first checkpoint with every floating-point
tensor of its ``state_dict`` replaced by the mean (summed in float64, so the mean of k identical
checkpoints is that checkpoint exactly); integer and boolean buffers are the first's, and must be
equal in all. The training state (optimizer, loops, callbacks) is left out: the average is a model
to score and serve, not a run to resume.

Only checkpoints of one model average meaningfully: the same task, the same fitted preprocessing
(an embedding row must be the same token in every one) and the same parameter shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from rnnpipe.atomic_files import written_whole
from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.registry import read_checkpoint
from rnnpipe.training.module import CHECKPOINT_KEY

TRAINING_STATE = ("optimizer_states", "lr_schedulers", "loops", "callbacks")
LAST = "last.ckpt"  # a copy of the newest state, not a checkpoint of its own


def run_checkpoints(reference: str) -> list[Path]:
    """A checkpoints folder's own checkpoints (``last.ckpt``, a copy, left out), by name; or the
    one file ``reference`` names."""
    path = Path(reference)
    if path.is_dir():
        found = sorted(p for p in path.glob("*.ckpt") if p.name != LAST)
        if not found:
            raise RnnpipeError(f"{path}: expected a folder of checkpoints, got none in it")
        return found
    return [path]


def same_model(first: dict, other: dict) -> str | None:
    """Why ``other`` is not a checkpoint of ``first``'s model, or None."""
    saved, other_saved = first[CHECKPOINT_KEY], other[CHECKPOINT_KEY]
    if saved.get("module") != other_saved.get("module"):
        return f"a checkpoint of {other_saved.get('module')}"
    if saved.get("preprocessing") != other_saved.get("preprocessing"):
        return "one with another fitted preprocessing (tokenizers, labels)"
    shapes = {k: v.shape for k, v in first["state_dict"].items()}
    if shapes != {k: v.shape for k, v in other["state_dict"].items()}:
        return "one with other parameters or parameter shapes"
    return None


def average_checkpoints(paths: Sequence[str | Path]) -> dict:
    """The averaged checkpoint of ``paths`` (module docstring), as a dict to save."""
    if not paths:
        raise RnnpipeError("checkpoints: expected one or more checkpoint files, got none")
    saved = [read_checkpoint(path) for path in paths]
    first = saved[0]
    for path, other in zip(paths, saved, strict=True):
        if not isinstance(other.get(CHECKPOINT_KEY), dict) or "state_dict" not in other:
            raise RnnpipeError(f"{path}: expected an rnnpipe checkpoint, got another file")
        reason = same_model(first, other)
        if reason:
            raise RnnpipeError(
                f"{path}: expected a checkpoint of the same model as {paths[0]}, got {reason}"
            )
    averaged = {}
    for name, value in first["state_dict"].items():
        values = [checkpoint["state_dict"][name] for checkpoint in saved]
        if value.is_floating_point():
            total = torch.stack([v.to(torch.float64) for v in values]).sum(0)
            averaged[name] = (total / len(values)).to(value.dtype)
        elif all(torch.equal(value, v) for v in values):
            averaged[name] = value
        else:
            differs = next(
                p for p, v in zip(paths, values, strict=True) if not torch.equal(value, v)
            )
            raise RnnpipeError(
                f"{differs}: expected the {name} of {paths[0]} (integer tensors are not "
                "averaged), got another"
            )
    result = {k: v for k, v in first.items() if k not in TRAINING_STATE}
    result["state_dict"] = averaged
    result[CHECKPOINT_KEY] = {**first[CHECKPOINT_KEY], "averaged_from": [str(p) for p in paths]}
    return result


def save_new(checkpoint: dict, output: str | Path) -> Path:
    """Write ``checkpoint`` to ``output``, a new file: written whole beside it, then renamed, so
    a failure leaves no partial file, and nothing that exists is replaced."""
    output = Path(output)
    if output.exists():
        raise RnnpipeError(f"output_path={output}: expected a new file, got an existing one")
    if not output.parent.is_dir():
        raise RnnpipeError(f"output_path={output}: expected a file in an existing folder")
    with written_whole(output) as partial:
        torch.save(checkpoint, partial)
    return output
