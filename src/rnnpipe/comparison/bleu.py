"""Corpus BLEU per resample, and sacreBLEU's own paired bootstrap, for the translation task.

BLEU is a corpus score, "sum, then score" over sacreBLEU's per-sentence sufficient statistics

    (hypothesis length, reference length, matching 1..4-grams, hypothesis 1..4-grams)    k = 10

so a resample of sentences is rescored as sacreBLEU would score that corpus. The statistics are
extracted as the run scored its test (the tokenizer and case of its ``sacrebleu.bleu_signature``
tag); the score from summed statistics depends on neither.

The p-value of two runs' translations is sacreBLEU's paired bootstrap (``PairedTest``, test type
``bs``, Koehn 2004): what a reader of MT papers expects. It reports no interval of the
difference, so that comes from rnnpipe's own seeded resamples of the same statistics. One
exception: two identical sets of translations get p = 1 (every resample's difference is 0),
where sacreBLEU's test, which counts resampled differences strictly above the observed one,
would give 1 / (R + 1).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

SIGNATURE_TAG = "sacrebleu.bleu_signature"  # e.g. nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|...


def scorer(signature: str) -> BLEU:
    """A BLEU scorer with the case and tokenizer a run's signature names."""
    fields = dict(part.split(":", 1) for part in signature.split("|") if ":" in part)
    return BLEU(lowercase=fields.get("case") == "lc", tokenize=fields.get("tok"))


def sentence_statistics(
    hypotheses: Sequence[str], references: Sequence[str], signature: str
) -> np.ndarray:
    """``(N, 10)``: each sentence's BLEU sufficient statistics, one reference each."""
    statistics = scorer(signature)._extract_corpus_statistics(list(hypotheses), [list(references)])
    return np.asarray(statistics, dtype=float)


def bleu(sums: np.ndarray) -> np.ndarray:
    """``(R, 10)`` summed statistics -> corpus BLEU (0-100) of each."""
    score = BLEU()._compute_score_from_stats  # exponential smoothing, as every rnnpipe run
    return np.array([score(row.tolist()).score for row in sums])


def sacrebleu_paired_p(
    hypotheses_a: Sequence[str],
    hypotheses_b: Sequence[str],
    references: Sequence[str],
    signature: str,
    resamples: int,
    seed: int,
) -> float:
    """sacreBLEU's paired bootstrap p-value of B against the baseline A."""
    if list(hypotheses_a) == list(hypotheses_b):
        return 1.0
    systems = [("A", list(hypotheses_a)), ("B", list(hypotheses_b))]
    # sacreBLEU seeds from SACREBLEU_SEED, and reads a seed of 0 as "unseeded": hence seed + 1
    previous = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed + 1)
    try:
        test = PairedTest(
            systems, {"BLEU": scorer(signature)}, [list(references)], "bs", n_samples=resamples
        )
        _, scores = test()
    finally:
        if previous is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = previous
    return float(scores["BLEU"][1].p_value)
