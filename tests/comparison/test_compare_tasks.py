"""`rnnpipe-compare` for every task's per-item form, on runs written by hand into a real MLflow
store (no training: the per-item files are those a test writes, checked in the pipeline tests):
which side is better whichever way the metric points, sacreBLEU's p for BLEU, and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from synthetic_items import SIGNATURE, bits, entities, translations

from rnnpipe.cli import compare as compare_cli
from rnnpipe.cli import results
from rnnpipe.comparison.items import ITEMS
from rnnpipe.tracking.seed_groups import SIZE_TAG


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[MlflowClient, list[str], object]:
    """A client, the CLI's ``--tracking-uri`` arguments, and ``logged(task, table, ...)``: a
    finished run of ``task`` whose test wrote ``table`` as its per-item artifact."""
    tmp = tmp_path_factory.mktemp("compare")
    uri = f"sqlite:///{tmp}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("runs")

    def logged(task: str, table: pd.DataFrame, test_file: str = "a", **tags: str) -> str:
        run_id = client.create_run(experiment, tags={"rnnpipe.task": task, **tags}).info.run_id
        client.set_tag(run_id, "rnnpipe.data.test.sha256", test_file)
        client.log_param(run_id, "data.test_path", "test.txt")
        folder = tmp / run_id
        folder.mkdir()
        path = folder / ITEMS[task].artifact.split("/")[-1]
        table.to_csv(path, sep="\t", index=False)
        client.log_artifact(run_id, str(path), "predictions")
        client.set_terminated(run_id, "FINISHED")
        return run_id

    return client, ["--tracking-uri", uri], logged


def compared(capsys, a: str, b: str, store_arguments: list[str]) -> tuple[str, list[str]]:
    """The printed header line and the table row's cells."""
    compare_cli.main([a, b, *store_arguments])
    lines = capsys.readouterr().out.splitlines()
    return lines[0], [cell.strip() for cell in lines[3].split("|")]


def entity_table(miss: float) -> pd.DataFrame:
    """150 sentences' entity counts (the same sentences whatever ``miss``)."""
    counts = entities(np.random.default_rng(0), 150, miss)
    columns = ["true_positives", "false_positives", "false_negatives"]
    return pd.DataFrame(counts, columns=columns).assign(line=np.arange(150) * 7 + 1)


def bits_table(per_char: float) -> pd.DataFrame:
    """100 reviews' bits and characters (the same reviews whatever ``per_char``)."""
    statistics = bits(np.random.default_rng(1), 100, per_char)
    return pd.DataFrame(statistics, columns=["bits", "characters"]).assign(line=range(2, 102))


def test_ner_and_generation_say_which_side_is_better_whichever_way_the_metric_points(store, capsys):
    client, arguments, logged = store
    broken, good = logged("ner", entity_table(0.5)), logged("ner", entity_table(0.1))
    header, row = compared(capsys, broken, good, arguments)
    assert header.startswith("test/f1 (higher is better)")
    assert float(row[5]) > 0 and float(row[7]) < 0.05 and row[8] == "B"
    _, row = compared(capsys, good, good, arguments)
    assert float(row[5]) == 0 and float(row[7]) == 1.0 and row[8] == "neither"

    more, fewer = logged("generation", bits_table(2.4)), logged("generation", bits_table(2.2))
    header, row = compared(capsys, more, fewer, arguments)
    assert header.startswith("test/bits_per_char (lower is better)")
    assert float(row[5]) == pytest.approx(-0.2, abs=1e-4) and float(row[7]) < 0.05
    assert row[8] == "B"  # B has fewer bits per character: B is better


def test_translation_gets_sacrebleus_paired_p_and_a_ci_from_the_same_statistics(store, capsys):
    client, arguments, logged = store
    references, good, broken = translations(np.random.default_rng(0), 60)

    def run(hypotheses: list[str]) -> str:
        table = pd.DataFrame({"line": range(1, 61), "source": "s", "reference": references,
                              "translation": hypotheses})  # fmt: skip
        return logged("translation", table, **{"sacrebleu.bleu_signature": SIGNATURE})

    worse, better = run(broken), run(good)
    _, row = compared(capsys, worse, better, arguments)
    assert float(row[5]) > 0 and float(row[6].strip("[]").split(",")[0]) > 0
    assert float(row[7]) < 0.05 and row[8] == "B"
    [comparison] = client.search_runs(
        [client.get_experiment_by_name("comparisons").experiment_id],
        filter_string=f"params.b = '{better}'",
    )
    assert "sacreBLEU" in comparison.data.params["method"]
    _, row = compared(capsys, better, better, arguments)
    assert float(row[5]) == 0 and float(row[7]) == 1.0


def test_sides_that_cannot_be_paired_are_refused_in_one_line(store, capsys):
    client, arguments, logged = store
    ner = logged("ner", entity_table(0.3))
    other_test_file = logged("ner", entity_table(0.3), test_file="b")
    generation = logged("generation", bits_table(2.0))
    signature = {"sacrebleu.bleu_signature": SIGNATURE}
    pair = {"line": [1], "source": ["s"], "reference": ["r"], "translation": ["r"]}
    translation = logged("translation", pd.DataFrame(pair), **signature)
    mixed_case = {"sacrebleu.bleu_signature": SIGNATURE.replace("case:lc", "case:mixed")}
    other_case = logged("translation", pd.DataFrame(pair), **mixed_case)
    untested = client.create_run(client.get_experiment_by_name("runs").experiment_id,
                                 tags={"rnnpipe.task": "ner"}).info.run_id  # fmt: skip
    client.set_tag(untested, "rnnpipe.data.test.sha256", "a")
    client.log_param(untested, "data.test_path", "test.txt")
    for a, b, expected in [
        (ner, other_test_file, "expected two sides scored on the same test set"),
        (ner, generation, "expected two runs of one task, got ner and generation"),
        (translation, other_case, "expected two sides scored alike, got another sacrebleu"),
        (ner, untested, "expected a tested run with the artifact predictions/test_entities.tsv"),
    ]:
        with pytest.raises(SystemExit):
            compare_cli.main([a, b, *arguments])
        error = capsys.readouterr().err
        assert error.startswith("error: ") and expected in error and error.count("\n") == 1


def grouped(client: MlflowClient, *members: str) -> str:
    """A group's parent run over ``members``, as the seed groups callback makes it."""
    first = client.get_run(members[0])
    tags = {"rnnpipe.group": "g", SIZE_TAG: str(len(members)),
            "rnnpipe.task": first.data.tags["rnnpipe.task"]}  # fmt: skip
    parent = client.create_run(first.info.experiment_id, tags=tags).info.run_id
    for member in members:
        client.set_tag(member, "mlflow.parentRunId", parent)
    client.set_terminated(parent, "FINISHED")
    return parent


def test_groups_are_paired_item_by_item_on_each_items_mean_over_the_groups_runs(store, capsys):
    client, arguments, logged = store
    tables = {per_char: bits_table(per_char) for per_char in (2.1, 2.3, 2.5, 2.6)}
    worse = grouped(client, logged("generation", tables[2.5]), logged("generation", tables[2.6]))
    better_runs = [logged("generation", tables[2.1]), logged("generation", tables[2.3])]
    better = grouped(client, *better_runs)
    _, row = compared(capsys, worse, better, arguments)
    # each item's mean over two seeds: 2.2 against 2.55 bits per character
    assert float(row[3]) == pytest.approx(2.55, abs=0.02) and float(row[4]) == pytest.approx(
        2.2, abs=0.02
    )
    assert (
        float(row[5]) == pytest.approx(-0.35, abs=1e-4) and float(row[7]) < 0.05 and row[8] == "B"
    )
    # --groups: a member run stands for its group
    _, same = compared(capsys, worse, better_runs[0], [*arguments, "--groups"])
    assert same == [*row[:2], better_runs[0], *row[3:]]

    # a group of folds: each run tested on its own part, the group on all of them
    def fold_group(per_char: float) -> str:
        parts = (bits_table(per_char).iloc[:50], bits_table(per_char).iloc[50:])
        return grouped(client, *(logged("generation", part, test_file=f"fold{i}")
                                 for i, part in enumerate(parts)))  # fmt: skip

    by_fold, other_folds = fold_group(2.2), fold_group(2.4)
    _, row = compared(capsys, by_fold, other_folds, arguments)
    assert float(row[5]) == pytest.approx(0.2, abs=1e-4) and float(row[7]) < 0.05
    one_fold = logged("generation", bits_table(2.2).iloc[:50], test_file="fold0")
    with pytest.raises(SystemExit):
        compare_cli.main([by_fold, one_fold, *arguments])
    assert "expected two sides scored on the same test set" in capsys.readouterr().err


def test_a_results_row_cites_the_newest_comparison_it_is_side_b_of(store, capsys):
    client, arguments, logged = store
    softmax = logged("ner", entity_table(0.3), **{"rnnpipe.results_row": "NER softmax"})
    crf = logged("ner", entity_table(0.1), **{"rnnpipe.results_row": "NER CRF"})
    compare_cli.main([softmax, crf, *arguments, "--seed", "1"])
    capsys.readouterr()
    _, row = compared(capsys, softmax, crf, arguments)  # the newest, with seed 0
    assert results.citations(client, client.get_run(crf)) == [
        f"vs NER softmax: test/f1 {row[5]}, 95 % CI {row[6]}, p = {row[7]}"
    ]
    assert results.citations(client, client.get_run(softmax)) == []  # side A cites none


def test_a_translation_run_s_greedy_decodings_are_a_side_of_their_own(store, capsys):
    client, arguments, logged = store
    references, good, broken = translations(np.random.default_rng(2), 60)
    table = pd.DataFrame({"line": range(1, 61), "source": "s", "reference": references,
                          "translation": good, "greedy": broken})  # fmt: skip
    signed = {"sacrebleu.bleu_signature": SIGNATURE}
    run = logged("translation", table, **signed, **{"rnnpipe.results_row": "translation: beam 5"})
    only_greedy = logged("translation", table.drop(columns="greedy"), **signed)
    _, row = compared(capsys, f"{run}#greedy", run, arguments)
    assert float(row[3]) == pytest.approx(bleu_of(broken, references), abs=1e-4)  # A: greedy
    assert float(row[4]) == pytest.approx(bleu_of(good, references), abs=1e-4)  # B: the beam
    assert float(row[7]) < 0.05 and row[8] == "B"
    assert results.citations(client, client.get_run(run)) == [
        f"vs translation: beam 5, greedy decoding: test/bleu {row[5]}, 95 % CI {row[6]}, "
        f"p = {row[7]}"
    ]
    refused = {f"{only_greedy}#greedy": "expected a 'greedy' column",
               f"{run}#sampled": "expected a decoding of greedy after '#'"}  # fmt: skip
    for side, expected in refused.items():
        with pytest.raises(SystemExit):
            compare_cli.main([side, run, *arguments])
        assert expected in capsys.readouterr().err


def bleu_of(hypotheses: list[str], references: list[str]) -> float:
    from sacrebleu.metrics import BLEU

    return BLEU(lowercase=True).corpus_score(hypotheses, [references]).score
