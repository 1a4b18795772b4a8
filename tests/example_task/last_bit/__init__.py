"""An example task package from outside rnnpipe: a string of bits in, its last bit out.

It is what README "Adding a task" walks through: a DataModule, a task module and a TaskSpec in
one folder, YAML files in a config folder of its own, and an entry point that registers it.
Nothing in src/ names it; tests/test_adding_a_task.py trains, reloads and serves it.
"""

from last_bit.data import LastBitDataModule
from last_bit.model import LastBitClassifier
from rnnpipe.tasks.spec import Metric, TaskSpec

SPEC = TaskSpec(
    name="last_bit",
    module_class=LastBitClassifier,
    datamodule_class=LastBitDataModule,
    headline_metrics=(Metric("test/acc"),),
)
