"""What a saved config may name: a checkpoint, an MLflow model or an artifact is data.

A checkpoint carries configs (the run's ``data``, ``model`` and ``trainer``, the module's
optimiser, scheduler and warm-up) that a resume, or a module's ``configure_optimizers``, hands to
Hydra's ``instantiate``. A crafted file could name any callable there, so every ``_target_`` in
them, at any depth, is checked against this allowlist before anything is built:

* the module and DataModule classes the registered task specs declare;
* optimisers and learning-rate schedulers of ``torch.optim`` (checked as classes, not names);
* Lightning's Trainer, the DDP strategy and rnnpipe's atomic checkpoint writer.

Hydra's own blocklist is not a sandbox; an allowlist is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.spec import TaskSpec

TRAINER_TARGETS = frozenset(
    {
        "lightning.pytorch.Trainer",
        "lightning.pytorch.strategies.DDPStrategy",
        "rnnpipe.training.atomic_checkpoint_io.AtomicCheckpointIO",
    }
)
TORCH_OPTIM = re.compile(r"torch\.optim\.(?:lr_scheduler\.)?([A-Z][A-Za-z0-9]*)")
SCHEDULER_BASES = (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def declared_targets(specs: Iterable[TaskSpec]) -> frozenset[str]:
    """The class paths the task specs declare, and the trainer's."""
    declared = set(TRAINER_TARGETS)
    for spec in specs:
        declared.add(class_path(spec.module_class))
        declared.update(class_path(cls) for cls in spec.training_datamodules)
    return frozenset(declared)


def is_torch_optim_class(target: str) -> bool:
    """``torch.optim.<Optimizer>`` or ``torch.optim.lr_scheduler.<Scheduler>``, as classes
    torch itself defines there (a name alone could reach a module attribute that is not one)."""
    match = TORCH_OPTIM.fullmatch(target)
    if match is None:
        return False
    scheduler = target.startswith("torch.optim.lr_scheduler.")
    home = torch.optim.lr_scheduler if scheduler else torch.optim
    found = getattr(home, match.group(1), None)
    bases = SCHEDULER_BASES if scheduler else (torch.optim.Optimizer,)
    return isinstance(found, type) and issubclass(found, bases)


def targets_in(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every ``_target_`` in a nested dict/list, with its dotted key."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "_target_":
                yield path, item
            else:
                yield from targets_in(item, path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from targets_in(item, f"{where}[{index}]")


def check_saved_targets(source: str, configs: dict[str, Any], specs: Iterable[TaskSpec]) -> None:
    """Refuse, in one line naming ``source`` and the key, a saved config whose ``_target_``
    the allowlist does not hold. ``configs``: the saved configs by where they were found."""
    declared = declared_targets(specs)
    for where, config in configs.items():
        for key, target in targets_in(config, where):
            if not (
                isinstance(target, str) and (target in declared or is_torch_optim_class(target))
            ):
                raise RnnpipeError(
                    f"{source}: {key}: expected a class a task declares, a torch.optim optimiser "
                    f"or scheduler, or Lightning's Trainer, got {str(target)[:120]!r}; a saved "
                    f"file is data, and rnnpipe builds nothing else from it"
                )
