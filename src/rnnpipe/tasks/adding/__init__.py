"""The adding problem: how many steps back can the RNN carry a number (many-to-one, regression)."""

from rnnpipe.tasks.adding.data import AddingDataModule
from rnnpipe.tasks.adding.model import AddingRegressor
from rnnpipe.tasks.spec import Metric, TaskSpec

SPEC = TaskSpec(
    name="adding",
    module_class=AddingRegressor,
    datamodule_class=AddingDataModule,
    headline_metrics=(
        Metric("test/mse", higher_is_better=False),
        Metric("test/mse_ratio", higher_is_better=False),
    ),
    served=False,
)
