"""How a task declares itself: one :class:`TaskSpec` per task package, found by its entry point.

Everything that lists tasks (loading a checkpoint back, the results table, the registered model
names, the entry points' checks) reads these specs; no other list of task names exists.
A package outside rnnpipe adds a task by declaring a spec under the ``rnnpipe.tasks`` entry-point
group of its own ``pyproject.toml`` (README, "Adding a task").
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnpipe.data.datamodule import TaskDataModule
from rnnpipe.training.module import TaskModule


@dataclass(frozen=True)
class Metric:
    """A metric a reader compares runs by, and which way is better."""

    name: str  # as logged, e.g. "test/f1"
    higher_is_better: bool = True


@dataclass(frozen=True)
class TaskSpec:
    """``name`` is the task's one name: its package, its ``experiment=`` and ``model=`` YAML,
    its MLflow experiment and its registered model ``rnnpipe-<name>``.

    ``served``: whether its model is logged as an MLflow pyfunc that answers raw input; its
    input and output columns are the module class's (``input_columns``, ``output_columns``).
    ``pretraining_datamodules``: other data a training run may read (a text corpus for the
    generator); ``datamodule_class`` is the task's own, the one a test file is read with.
    """

    name: str
    module_class: type[TaskModule]
    datamodule_class: type[TaskDataModule]
    headline_metrics: tuple[Metric, ...]
    served: bool = True
    pretraining_datamodules: tuple[type[TaskDataModule], ...] = ()

    @property
    def training_datamodules(self) -> tuple[type[TaskDataModule], ...]:
        """The DataModule classes a training run of the task may build."""
        return (self.datamodule_class, *self.pretraining_datamodules)

    @property
    def registered_model_name(self) -> str:
        return f"rnnpipe-{self.name}"

    @property
    def serving_columns(self) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """``(input columns, output columns)`` of the served model, or None."""
        if not self.served:
            return None
        return self.module_class.input_columns, self.module_class.output_columns
