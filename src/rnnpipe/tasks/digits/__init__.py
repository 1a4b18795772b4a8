"""Sequential digits: an 8x8 digit read one pixel at a time (many-to-one classification)."""

from rnnpipe.tasks.digits.data import DigitsDataModule
from rnnpipe.tasks.digits.model import DigitsClassifier
from rnnpipe.tasks.spec import Metric, TaskSpec

SPEC = TaskSpec(
    name="digits",
    module_class=DigitsClassifier,
    datamodule_class=DigitsDataModule,
    headline_metrics=(Metric("test/acc"),),
    served=False,
)
