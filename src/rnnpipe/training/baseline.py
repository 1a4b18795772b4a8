"""What a task's baseline hands ``rnnpipe-baseline``: the metrics a training run would log, and
its report tables.

A baseline (TF-IDF + logistic regression for sentiment, a most-frequent-tag tagger for NER) is
fitted on a set-up DataModule's train split and scored on its val (and test) split by the task's
own scorer, so its row beside the RNN's compares like with like: the same items, the same metric
names (``val/acc``, ``test/f1``, ...), the same per-item predictions file for ``rnnpipe-compare``.
A baseline is any object built from YAML (``conf/baseline.yaml``) with a ``method`` (what it is
and which library computes it: the run's ``rnnpipe.baseline`` tag) and a
``score(datamodule) -> BaselineScores``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class BaselineScores:
    metrics: dict[str, float]  # as a training run names them: val/acc, test/f1, ...
    reports: dict[str, pd.DataFrame]  # a path under the run's reports folder -> its TSV table
