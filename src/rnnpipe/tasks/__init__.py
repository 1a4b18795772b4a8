"""One LightningModule per problem form, and the way back from a checkpoint to its task."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import get_class

from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.base import CHECKPOINT_KEY, TaskModule

# task name (saved in every checkpoint) -> its module class, imported only when needed
TASKS: dict[str, str] = {
    "sentiment": "rnnpipe.tasks.classifier.SentimentClassifier",
    "ner": "rnnpipe.tasks.tagger.EntityTagger",
    "translation": "rnnpipe.tasks.seq2seq.Translator",
    "generation": "rnnpipe.tasks.generator.ReviewGenerator",
}


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> TaskModule:
    """Rebuild the task module saved in a Lightning checkpoint, ready to predict (eval mode).

    The checkpoint names its task, so no class needs to be given; it is read with
    ``weights_only=True``: a checkpoint cannot run code when it is loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise RnnpipeError(f"{path}: expected a checkpoint file, got no such file")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a checkpoint
        raise RnnpipeError(f"{path}: expected a Lightning checkpoint, got {error}") from None
    task = checkpoint.get(CHECKPOINT_KEY, {}).get("task")
    if task not in TASKS:
        raise RnnpipeError(
            f"{path}: expected an rnnpipe checkpoint naming one of {sorted(TASKS)}, got {task!r}"
        )
    task_class = get_class(TASKS[task])
    module = task_class.load_from_checkpoint(path, map_location=map_location, weights_only=True)
    return module.eval()
