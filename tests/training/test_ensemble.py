"""Ensembles at prediction time: of one model, or of two identical ones, they are that model."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from conftest import SAMPLE_DATA, built_on_sample, write_checkpoint

from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.registry import load_checkpoint
from rnnpipe.tracking.loading import load_models
from rnnpipe.training.ensemble import ensemble

SMALL = {
    "sentiment": ("model.hidden_size=8", "model.embedding_dim=8"),
    "ner": ("model.hidden_size=8", "model.embedding_dim=8", "model.char_hidden_size=4"),
    "translation": ("model.hidden_size=8", "model.embedding_dim=8", "model.beam_size=3",
                    "model.max_decode_length=6"),
}  # fmt: skip
INPUTS = {
    "sentiment": ["The pasta was superb.", "Cold soup and a rude waiter."],
    "ner": ["EU rejects German call to boycott British lamb .", "Peter flew to Brussels ."],
    "translation": ["A dog runs.", "Two men sit on a bench."],
}


def saved_model(task: str, tmp_path, seed: int = 0):
    torch.manual_seed(seed)
    return write_checkpoint(built_on_sample(task, *SMALL[task]), tmp_path / f"{task}{seed}.ckpt")


@pytest.mark.parametrize("task", sorted(SMALL))
def test_an_ensemble_of_one_or_of_two_identical_members_is_that_member(task, tmp_path):
    path = saved_model(task, tmp_path)
    member = load_checkpoint(path).predict_texts(INPUTS[task])
    for references in ([str(path)], [str(path), str(path)]):
        predicted = load_models(references).predict_texts(INPUTS[task])
        assert list(predicted.columns) == list(member.columns)
        for column in member.columns:
            if member[column].dtype == float:  # two: log(p + p) - log 2 may differ in the last bit
                assert predicted[column].tolist() == pytest.approx(member[column].tolist())
            else:
                assert predicted[column].tolist() == member[column].tolist(), column


def test_a_classifier_ensemble_averages_its_members_logits(tmp_path):
    first, second = saved_model("sentiment", tmp_path, 0), saved_model("sentiment", tmp_path, 1)
    tokens, lengths = torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2])
    logits = [load_checkpoint(p)(tokens, lengths) for p in (first, second)]
    combined = load_models([str(first), str(second)])(tokens, lengths)
    assert torch.equal(combined, (logits[0] + logits[1]) / 2)


def test_a_translation_ensemble_steps_each_member_from_its_own_state(tmp_path):
    members = [load_checkpoint(saved_model("translation", tmp_path, s)) for s in (0, 1)]
    source, lengths = torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2])
    tokens = torch.tensor([2, 2])
    steps = [m.decode_step(tokens, m.search_state(source, lengths)) for m in members]
    model = ensemble(members, ["a", "b"])
    log_probs, state = model.decode_step(tokens, model.search_state(source, lengths))
    expected = torch.stack([scores.softmax(-1) for scores, _ in steps]).mean(0).log()
    assert torch.allclose(log_probs, expected, atol=1e-6)
    assert torch.equal(state["1/hidden"], steps[1][1]["hidden"])


def test_the_pyfunc_serves_an_ensemble_and_evaluate_scores_it(tmp_path, compose_config):
    from rnnpipe.cli.evaluate import evaluate
    from rnnpipe.tracking.pyfunc_model import RnnpipeModel

    path = saved_model("sentiment", tmp_path)
    served = RnnpipeModel()
    served.load_context(SimpleNamespace(artifacts={"member_0": str(path), "member_1": str(path)}))
    frame = pd.DataFrame({"text": INPUTS["sentiment"]})
    assert (
        served.predict(None, frame)["label"].tolist()
        == load_checkpoint(path).predict_frame(frame)["label"].tolist()
    )

    data = f"data_path={SAMPLE_DATA / 'reviews_sample.tsv'}"
    alone = evaluate(
        compose_config(f"model_uri={path}", data, "logger=csv", config_name="evaluate")
    )
    both = evaluate(
        compose_config(f"model_uri=[{path},{path}]", data, "logger=csv", config_name="evaluate")
    )
    assert both == alone


def test_members_of_another_task_are_refused(tmp_path):
    sentiment, ner = saved_model("sentiment", tmp_path), saved_model("ner", tmp_path)
    with pytest.raises(RnnpipeError, match=f"{ner}: expected a SentimentClassifier as"):
        load_models([str(sentiment), str(ner)])


def test_an_evaluated_ensemble_is_registered_as_a_version_that_serves_it(tmp_path, compose_config):
    """rnnpipe-evaluate register_model=true: the two seeds' ensemble becomes rnnpipe-sentiment/1,
    holding both checkpoints in order, tagged with the evaluation's test metrics."""
    from mlflow import MlflowClient

    from rnnpipe.cli.evaluate import evaluate

    first, second = saved_model("sentiment", tmp_path, 0), saved_model("sentiment", tmp_path, 1)
    cfg = compose_config(
        f"model_uri=[{first},{second}]",
        f"data_path={SAMPLE_DATA / 'reviews_sample.tsv'}",
        "register_model=true",
        config_name="evaluate",
    )
    metrics = evaluate(cfg)
    client = MlflowClient(cfg.logger.tracking_uri)
    version = client.get_model_version("rnnpipe-sentiment", "1")
    assert float(version.tags["test/acc"]) == pytest.approx(metrics["test/acc"])
    # tested on the file it scored, as a run trained with data.test_path=<that file> is, so the
    # promotion rule compares the two
    sample = (SAMPLE_DATA / "reviews_sample.tsv").read_bytes()
    assert version.tags["test_set"] == hashlib.sha256(sample).hexdigest()
    shipped = load_models("models:/rnnpipe-sentiment/1", cfg.logger.tracking_uri)
    expected = load_models([str(first), str(second)])
    tokens, lengths = torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2])
    assert torch.equal(shipped(tokens, lengths), expected(tokens, lengths))
    # the order is kept: the first member is the one that decodes and reports
    assert torch.equal(
        shipped.state_dict()["head.weight"],
        load_checkpoint(first).state_dict()["head.weight"],
    )
