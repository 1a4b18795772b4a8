"""The one per-item form of every text task's test, and how each is scored: :data:`ITEMS`.

A tested run of a text task logs a TSV artifact with one row per test item, keyed by an item id
(the item's line in its source file: a review, a sentence's first token, a sentence pair), from
which each item's sufficient statistics follow; the task's headline metric is a score of their
sums (:mod:`rnnpipe.comparison.metrics`):

    task         artifact (predictions/...)   per item                    metric (test/...)
    sentiment    test_predictions.tsv         right (label = predicted)   acc
    ner          test_entities.tsv            entity TP, FP, FN           f1
    translation  test_translations.tsv        translation, reference      bleu (sacreBLEU)
    generation   test_bits_per_char.tsv       bits, characters            bits_per_char

So the whole table's score is the run's logged test metric, and a resample of items is scored
the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow.entities import Run

from rnnpipe.comparison import bleu
from rnnpipe.comparison.bootstrap import Metric
from rnnpipe.comparison.metrics import entity_f1, ratio

Statistics = Callable[[pd.DataFrame, Run], np.ndarray]  # an item table -> (N, k)
PairedP = Callable[[pd.DataFrame, pd.DataFrame, Run, int, int], float]  # A, B, run, R, seed


@dataclass(frozen=True)
class ItemForm:
    """What one task's test writes per item, and how it is scored."""

    artifact: str  # the TSV among the run's artifacts
    item_id: str  # its column that names each item
    metric: str  # the headline metric the sums rescore, as the run logged it
    statistics: Statistics
    score: Metric
    scored_alike: tuple[str, ...] = ()  # tags two runs must share to be compared (a signature)
    paired_p: PairedP | None = None  # the field's own test of two runs, where it has one
    # a side named <run>#<decoding> is scored on another column of the same table, in place of
    # the scored one: translation's test decodes with the beam and greedily too
    scored_column: str = ""
    decodings: tuple[str, ...] = ()


def columns(*names: str) -> Statistics:
    """The statistics that are columns of the table, as they are."""
    return lambda table, run: table[list(names)].to_numpy(dtype=float)


def right(table: pd.DataFrame, run: Run) -> np.ndarray:
    """(1 if the label was predicted else 0, 1) per review."""
    hits = (table["label"] == table["predicted"]).to_numpy(dtype=float)
    return np.stack([hits, np.ones_like(hits)], axis=1)


def bleu_statistics(table: pd.DataFrame, run: Run) -> np.ndarray:
    return bleu.sentence_statistics(
        table["translation"].astype(str),
        table["reference"].astype(str),
        run.data.tags[bleu.SIGNATURE_TAG],
    )


def sacrebleu_p(a: pd.DataFrame, b: pd.DataFrame, run: Run, resamples: int, seed: int) -> float:
    """sacreBLEU's paired bootstrap of two runs' translations (rows paired by item)."""
    return bleu.sacrebleu_paired_p(
        a["translation"].astype(str),
        b["translation"].astype(str),
        a["reference"].astype(str),
        run.data.tags[bleu.SIGNATURE_TAG],
        resamples,
        seed,
    )


ITEMS = {
    "sentiment": ItemForm("predictions/test_predictions.tsv", "line", "test/acc", right, ratio),
    "ner": ItemForm(
        "predictions/test_entities.tsv",
        "line",
        "test/f1",
        columns("true_positives", "false_positives", "false_negatives"),
        entity_f1,
    ),
    "translation": ItemForm(
        "predictions/test_translations.tsv",
        "line",
        "test/bleu",
        bleu_statistics,
        bleu.bleu,
        scored_alike=(bleu.SIGNATURE_TAG,),
        paired_p=sacrebleu_p,
        scored_column="translation",
        decodings=("greedy",),
    ),
    "generation": ItemForm(
        "predictions/test_bits_per_char.tsv",
        "line",
        "test/bits_per_char",
        columns("bits", "characters"),
        ratio,
    ),
}


def read_items(path: str) -> pd.DataFrame:
    """An item table as written: no text read as a missing value ("NA", "null", "")."""
    return pd.read_csv(path, sep="\t", keep_default_na=False)
