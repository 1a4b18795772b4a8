"""Every task rnnpipe knows, from the ``rnnpipe.tasks`` entry points, and the way back from a
checkpoint to its task.

A task package declares a :class:`TaskSpec`; its distribution's ``pyproject.toml`` names it:

    [project.entry-points."rnnpipe.tasks"]
    sentiment = "rnnpipe.tasks.sentiment:SPEC"

so a fresh process (``mlflow models serve``) and packages outside rnnpipe find it the same way.
"""

from __future__ import annotations

import inspect
import zipfile
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch

from rnnpipe.errors import RnnpipeError, require_file
from rnnpipe.tasks.saved_targets import check_saved_targets
from rnnpipe.tasks.spec import TaskSpec
from rnnpipe.training.module import CHECKPOINT_KEY, TaskModule

ENTRY_POINT_GROUP = "rnnpipe.tasks"


def task_specs() -> dict[str, TaskSpec]:
    """Every registered task by name (each entry point is loaded when this is called)."""
    specs = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        spec = entry.load()
        if not isinstance(spec, TaskSpec) or spec.name != entry.name:
            raise RnnpipeError(
                f"entry point {entry.name} = {entry.value} ({ENTRY_POINT_GROUP}): expected the "
                f"TaskSpec of a task named {entry.name!r}, got {spec!r}"
            )
        specs[spec.name] = spec
    return specs


def task_spec(name: str) -> TaskSpec:
    """The task called ``name`` (the ``task_name`` of a config)."""
    specs = task_specs()
    if name not in specs:
        raise RnnpipeError(f"task_name={name}: expected one of the tasks {sorted(specs)}")
    return specs[name]


def spec_of(module: TaskModule | type[TaskModule]) -> TaskSpec:
    """The task whose module class ``module`` is (or is an instance of)."""
    module_class = module if isinstance(module, type) else type(module)
    for spec in task_specs().values():
        if spec.module_class is module_class:
            return spec
    raise RnnpipeError(
        f"{module_class.__qualname__}: expected the module class of a registered task "
        f"({ENTRY_POINT_GROUP} entry points), found none"
    )


def checkpoint_spec(path: Path, saved: dict) -> TaskSpec:
    """The task a checkpoint's ``"rnnpipe"`` entry names: its module class, or, in checkpoints
    from before tasks were packages, the task's name."""
    specs = task_specs().values()
    module_path = saved.get("module")
    if module_path is not None:
        for spec in specs:
            if f"{spec.module_class.__module__}.{spec.module_class.__qualname__}" == module_path:
                return spec
        found = f"the module {module_path}"
    else:
        for spec in specs:
            if spec.name == saved.get("task"):
                return spec
        found = f"the task {saved.get('task')!r}"
    raise RnnpipeError(
        f"{path}: expected an rnnpipe checkpoint of a registered task "
        f"{sorted(s.name for s in specs)}, got {found}"
    )


BUILT_FROM_RUN_CONFIG = ("data", "model", "trainer")  # what a resume restores from a checkpoint
ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive (since PyTorch 1.6)
WEIGHTS_ONLY_REFUSAL = "WeightsUnpickler error:"  # how torch says which object it will not load


def read_checkpoint(path: str | Path, map_location: str = "cpu") -> dict:
    """The saved dict of a Lightning checkpoint, read with ``weights_only=True`` (it cannot run
    code). A file torch cannot read is named with what it is (empty, truncated, not a checkpoint)
    instead of torch's internal message (``EOFError``, ``101``, a zip reader error)."""
    path = require_file(path, "a checkpoint file")
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a checkpoint
        raise RnnpipeError(
            f"{path}: expected a Lightning checkpoint, got {unreadable_checkpoint(path, error)}"
        ) from None
    if not isinstance(saved, dict):
        raise RnnpipeError(
            f"{path}: expected a Lightning checkpoint, got a saved {type(saved).__name__}"
        )
    check_saved_targets(str(path), buildable_configs(saved), task_specs().values())
    return saved


def buildable_configs(saved: dict) -> dict[str, Any]:
    """The configs in a checkpoint that rnnpipe may build objects from: the module's and the
    DataModule's hyperparameters (its optimiser, scheduler, warm-up) and the run config's
    ``data``, ``model`` and ``trainer``, which a resume restores. (The module's own data config
    is not: its arguments go to the task's DataModule class, its ``_target_`` is never read.)"""
    entry = saved.get(CHECKPOINT_KEY)
    entry = entry if isinstance(entry, dict) else {}
    run_config = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    configs = {
        "hyper_parameters": saved.get("hyper_parameters"),
        "datamodule_hyper_parameters": saved.get("datamodule_hyper_parameters"),
    }
    configs |= {f"{CHECKPOINT_KEY}.config.{group}": run_config.get(group)
                for group in BUILT_FROM_RUN_CONFIG}  # fmt: skip
    return configs


def unreadable_checkpoint(path: Path, error: Exception) -> str:
    """What a file that ``torch.load`` refused is, judged from its bytes."""
    with open(path, "rb") as handle:
        head = handle.read(len(ZIP_MAGIC))
    if not head:
        return "an empty file"
    if not ZIP_MAGIC.startswith(head):
        return "a file that is not a PyTorch checkpoint"
    if not zipfile.is_zipfile(path):
        return "a truncated file (the end of the zip archive is missing)"
    # a complete archive torch refuses: its multi-line message names the reason on one line
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [repr(error)]
    reason = next((line for line in lines if line.startswith(WEIGHTS_ONLY_REFUSAL)), lines[0])
    return f"one torch refuses to load ({reason.removeprefix(WEIGHTS_ONLY_REFUSAL).strip()})"


# Hyperparameters added after checkpoints were first saved, with the value that rebuilds the
# model an older checkpoint was trained as: it predates the choice, so it holds a vanilla RNN
# with PyTorch's initialisation (and a translator served its one best translation).
ADDED_LATER = {
    "cell": "vanilla",
    "init": "default",
    "n_best": 1,
    "embedding_dropout": 0.0,  # training-time only: a saved model without them had none
    "locked_dropout": 0.0,
    "warmup": None,
    "freeze_embeddings": False,  # only with pretrained vectors, which came later too
    "serving": None,  # no request limits: it predicts texts, but is not served
}


def added_later(spec: TaskSpec, hyperparameters: dict) -> dict:
    """The :data:`ADDED_LATER` arguments the task's module takes but the checkpoint lacks."""
    takes = inspect.signature(spec.module_class.__init__).parameters
    return {
        key: value
        for key, value in ADDED_LATER.items()
        if key in takes and key not in hyperparameters
    }


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> TaskModule:
    """Rebuild the task module saved in a Lightning checkpoint, ready to predict (eval mode).

    The checkpoint names its task, so no class needs to be given; it is read with
    ``weights_only=True``: a checkpoint cannot run code when it is loaded.
    """
    path = Path(path)
    checkpoint = read_checkpoint(path, map_location)
    if not isinstance(checkpoint.get(CHECKPOINT_KEY), dict):
        raise RnnpipeError(
            f"{path}: expected an rnnpipe checkpoint, got one without {CHECKPOINT_KEY!r}"
        )
    spec = checkpoint_spec(path, checkpoint[CHECKPOINT_KEY])
    try:
        module = spec.module_class.load_from_checkpoint(
            path,
            map_location=map_location,
            weights_only=True,
            **added_later(spec, checkpoint.get("hyper_parameters", {})),
        )
    except TypeError as error:  # hyperparameters this layout's module does not take
        raise RnnpipeError(
            f"{path}: expected a {spec.name} checkpoint of this rnnpipe layout, got one from an "
            f"older layout ({error}); retrain it with this version"
        ) from None
    return module.eval()
