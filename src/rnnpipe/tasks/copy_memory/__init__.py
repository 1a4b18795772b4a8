"""The copy-memory task: keep k symbols across a delay of T steps (many-to-many, aligned)."""

from rnnpipe.tasks.copy_memory.data import CopyMemoryDataModule
from rnnpipe.tasks.copy_memory.model import CopyMemoryModel
from rnnpipe.tasks.spec import Metric, TaskSpec

SPEC = TaskSpec(
    name="copy_memory",
    module_class=CopyMemoryModel,
    datamodule_class=CopyMemoryDataModule,
    headline_metrics=(
        Metric("test/loss", higher_is_better=False),
        Metric("test/loss_ratio", higher_is_better=False),
        Metric("test/copy_accuracy"),
    ),
    served=False,
)
