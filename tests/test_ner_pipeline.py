"""NER end to end: train on the bundled CoNLL sample, record in MLflow, serve, evaluate."""

from __future__ import annotations

import random
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from rnnpipe.cli.evaluate import evaluate
from rnnpipe.cli.train import train
from rnnpipe.comparison.items import ITEMS, read_items
from rnnpipe.errors import DataFormatError
from rnnpipe.tasks.ner.conll import read_tagged_file
from rnnpipe.tasks.ner.metrics import ChunkCounts, count_chunks, micro_scores
from rnnpipe.tasks.registry import load_checkpoint

pytestmark = pytest.mark.slow

SMALL_MODEL = (
    "model.embedding_dim=4",
    "model.char_embedding_dim=4",
    "model.char_hidden_size=4",
    "model.hidden_size=8",
)


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for entry in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, entry.path) if entry.is_dir else {entry.path}
    return found


def read_predictions(path: str) -> list[list[list[str]]]:
    """``token gold predicted`` lines, blank lines between sentences."""
    sentences = [[]]
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line:
            sentences[-1].append(line.split("\t"))
        elif sentences[-1]:
            sentences.append([])
    return [s for s in sentences if s]


def rescored(sentences: list[list[list[str]]]) -> ChunkCounts:
    counts = ChunkCounts()
    for rows in sentences:
        count_chunks([r[1] for r in rows], [r[2] for r in rows], counts)
    return counts


def test_train_serve_and_evaluate_on_the_sample(compose_config, tmp_path):
    """Two epochs on the sample, a tiny vectors file as frozen pretrained embeddings; then the
    run's records, its registered pyfunc, and rnnpipe-evaluate on new files (one training run
    for all three: training is the slow part)."""
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("Germany 0.5 -0.5 0.25 1.0\nfrance 1 2 3 4\n", encoding="utf-8")
    cfg = compose_config(
        "experiment=ner",
        "register_model=true",
        "trainer.max_epochs=2",
        *SMALL_MODEL,
        f"data.embeddings_path={vectors}",
        "model.freeze_embeddings=true",
    )
    metrics = train(cfg)
    client = MlflowClient(cfg.logger.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("ner").experiment_id])
    check_run_records(cfg, metrics, client, run)
    check_registered_pyfunc(cfg)
    check_evaluate(compose_config, client, tmp_path)


def check_run_records(cfg, metrics, client, run):
    assert run.info.status == "FINISHED"
    for name in ("train/loss", "val/loss", "val/f1", "val/precision", "val/recall", "val/acc"):
        assert name in run.data.metrics, name
    assert len(client.get_metric_history(run.info.run_id, "val/f1")) == 2
    for name in ("test/f1", "test/precision", "test/recall", "test/acc", "test/f1_PER"):
        assert run.data.metrics[name] == pytest.approx(metrics[name]), name
    tags = run.data.tags
    assert tags["rnnpipe.ner.tag_scheme"] == "BIOES"
    assert tags["rnnpipe.ner.decoding"] == "crf-viterbi"
    assert tags["rnnpipe.data.train.path"] == cfg.data.train_path
    assert "rnnpipe.data.embeddings.sha256" in tags
    # Germany (as itself) and France (as "france") of the sample's words: their share, logged
    assert run.data.metrics["data/embeddings_found"] == 2
    assert 0 < run.data.metrics["data/embeddings_coverage"] < 0.1

    artifacts = artifact_paths(client, run.info.run_id)
    assert {
        "tokenizer/words.json",
        "tokenizer/chars.json",
        "predictions/test_predictions.tsv",
        "predictions/test_entities.tsv",
        "metrics/entity_scores_by_type.tsv",
        "plots/tag_confusion_matrix.png",
    } <= artifacts

    # the predictions file is the test file in CoNLL format, and conlleval on it gives test/*
    download = client.download_artifacts
    sentences = read_predictions(download(run.info.run_id, "predictions/test_predictions.tsv"))
    test_file = read_tagged_file(cfg.data.test_path, "auto", "BIOES", repair_tags=True)
    assert [[r[0] for r in s] for s in sentences] == [list(s.words) for s in test_file]
    assert [[r[1] for r in s] for s in sentences] == [list(s.tags) for s in test_file]
    counts = rescored(sentences)
    assert micro_scores(counts).f1 == pytest.approx(metrics["test/f1"], abs=1e-6)
    assert counts.correct_tokens / counts.tokens == pytest.approx(metrics["test/acc"], abs=1e-6)
    # each sentence's entity counts, by its first line, sum to test/f1 (what rnnpipe-compare reads)
    items = read_items(download(run.info.run_id, "predictions/test_entities.tsv"))
    assert items["line"].tolist() == [s.lines[0] for s in test_file]
    form = ITEMS["ner"]
    f1 = form.score(form.statistics(items, run).sum(0, keepdims=True))[0]
    assert f1 == pytest.approx(metrics["test/f1"], abs=1e-6)

    table = pd.read_csv(download(run.info.run_id, "metrics/entity_scores_by_type.tsv"), sep="\t")
    assert table["type"].tolist() == ["LOC", "MISC", "ORG", "PER", "all (micro)"]
    assert table["gold"].tolist()[:4] == [counts.gold[t] for t in ("LOC", "MISC", "ORG", "PER")]
    assert table["f1"].iloc[-1] == pytest.approx(metrics["test/f1"], abs=1e-4)

    # the frozen pretrained vectors are in the checkpoint (an exact match, and a lowercase one)
    [checkpoint] = [p for p in artifacts if p.startswith("checkpoints/")]
    model = load_checkpoint(download(run.info.run_id, checkpoint))
    words = model.tokenizer("words")
    assert model.embedding.weight[words.token_to_id("Germany")].tolist() == [0.5, -0.5, 0.25, 1.0]
    assert model.embedding.weight[words.token_to_id("France")].tolist() == [1, 2, 3, 4]


def check_registered_pyfunc(cfg):
    mlflow.set_tracking_uri(cfg.logger.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/rnnpipe-ner/1")
    answer = model.predict(
        pd.DataFrame(
            {
                "text": ["Germany beats France in Berlin.", None],
                "tokens": [None, ["Peter", "Blackburn", "said", "."]],
            }
        )
    )
    assert [[pair[0] for pair in row] for row in answer["tagged"]] == [
        ["Germany", "beats", "France", "in", "Berlin", "."],
        ["Peter", "Blackburn", "said", "."],
    ]
    labels = set(model.unwrap_python_model().module.hparams.labels)
    assert all(pair[1] in labels for row in answer["tagged"] for pair in row)
    assert model.metadata.signature.inputs.input_names() == ["text", "tokens"]


def check_evaluate(compose_config, client, tmp_path):
    # a 2-column IOB1 file: detected, converted, scored; its predictions rescore to its metrics
    new_file = tmp_path / "new.txt"
    new_file.write_text(
        "Peter I-PER\nBlackburn I-PER\nvisited O\nGermany I-LOC\n\nEU I-ORG\nsaid O\n",
        encoding="utf-8",
    )
    eval_cfg = compose_config(
        "model_uri=models:/rnnpipe-ner/1", f"data_path={new_file}", config_name="evaluate"
    )
    metrics = evaluate(eval_cfg)
    assert {"test/f1", "test/precision", "test/recall", "test/acc", "test/loss"} <= set(metrics)
    [run] = client.search_runs(
        [client.get_experiment_by_name("ner").experiment_id],
        filter_string="tags.`rnnpipe.evaluated_model` = 'models:/rnnpipe-ner/1'",
    )
    path = client.download_artifacts(run.info.run_id, "predictions/test_predictions.tsv")
    sentences = read_predictions(path)
    assert [[r[1] for r in s] for s in sentences] == [
        ["B-PER", "E-PER", "O", "S-LOC"],
        ["S-ORG", "O"],
    ]
    assert micro_scores(rescored(sentences)).f1 == pytest.approx(metrics["test/f1"], abs=1e-6)

    unknown = tmp_path / "unknown.txt"
    unknown.write_text("Monday B-DATE\n", encoding="utf-8")
    bad_cfg = compose_config(
        "model_uri=models:/rnnpipe-ner/1", f"data_path={unknown}", config_name="evaluate"
    )
    with pytest.raises(DataFormatError, match=r"unknown.txt:1: expected an entity type seen"):
        evaluate(bad_cfg)


def write_conll(path: Path, sentences: list[list[tuple[str, str]]]) -> Path:
    path.write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.learning(seed=0)
def test_an_easy_pattern_is_learned_exactly(compose_config, tmp_path, learning_seed):
    """Names after "Mr" are people, places after "in" are locations: F1 1.0 on held-out text."""
    rng = random.Random(learning_seed)
    people, places = ["Smith", "Jones", "Brown", "Taylor"], ["Paris", "Rome", "Oslo", "Lima"]

    def sentence():
        person, place = rng.choice(people), rng.choice(places)
        return [("Mr", "O"), (person, "B-PER"), ("lives", "O"), ("in", "O"), (place, "B-LOC")]

    train_path = write_conll(tmp_path / "train.txt", [sentence() for _ in range(48)])
    val_path = write_conll(tmp_path / "val.txt", [sentence() for _ in range(8)])
    cfg = compose_config(
        "experiment=ner",
        f"seed={learning_seed}",
        f"data.train_path={train_path}",
        f"data.val_path={val_path}",
        f"data.test_path={val_path}",
        "data.batch_size=8",
        "logger=csv",
        "log_model=false",
        "trainer.max_epochs=30",
        "optimized_metric=val/loss",  # the best checkpoint is a trained one, not the first at
        "optimized_mode=min",  # val/f1 1.0 (1 seed of 30 then tagged the sentence below wrong)
        "model.dropout=0.0",
        "model.word_dropout=0.0",
        "model.optimizer.lr=0.02",
        *SMALL_MODEL,
    )
    metrics = train(cfg)
    assert metrics["test/f1"] == 1.0
    [best] = (Path(cfg.paths.run_dir) / "checkpoints").glob("epoch*.ckpt")
    answer = load_checkpoint(best).predict_texts(["Mr Brown lives in Oslo"])
    assert answer["entities"][0] == [
        {"type": "PER", "text": "Brown", "start": 1, "end": 2},
        {"type": "LOC", "text": "Oslo", "start": 4, "end": 5},
    ]
