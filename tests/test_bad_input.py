"""Bad input at every entry point: one clear ``error:`` line (file, line, expectation), a
non-zero exit, and never an MLflow run marked FINISHED for work that failed.

The console entry points run in-process (conftest's ``cli`` fixture), exactly as the installed
scripts call them.
"""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from rnnpipe.cli import evaluate, predict, train

pytestmark = pytest.mark.slow


def finished_runs(tmp_path) -> list:
    if not (tmp_path / "mlflow.db").exists():
        return []
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return [r for r in client.search_runs(experiments) if r.info.status == "FINISHED"]


REVIEW_FILES = {
    "empty": (b"", "{path}:1: expected the header 'Review\\tLiked', got an empty file"),
    "wrong columns": (
        b"Review\tLiked\nGood.\t1\nBad food\t0\textra\n",
        "{path}:3: expected 2 tab-separated columns (review, liked), got 3 columns",
    ),
    "wrong encoding": (
        "Review\tLiked\nCafé was great.\t1\n".encode("latin-1"),
        "{path}:2: expected UTF-8 text, got undecodable bytes b'\\xe9'",
    ),
    "label outside the set": (
        b"Review\tLiked\nGood.\t1\nMeh.\tmaybe\n",
        "{path}:3: expected a label of 0 or 1, got 'maybe'",
    ),
}


@pytest.mark.parametrize("case", sorted(REVIEW_FILES))
def test_training_on_a_bad_review_file(cli, tmp_path, case):
    content, expected = REVIEW_FILES[case]
    path = tmp_path / "reviews.tsv"
    path.write_bytes(content)
    status, _, errors = cli(train.main, f"data.path={path}")
    assert status == 1
    assert errors == [f"error: {expected.format(path=path)}"]
    assert finished_runs(tmp_path) == []


def test_training_on_a_missing_file(cli, tmp_path):
    status, _, errors = cli(train.main, f"data.path={tmp_path}/nope.tsv")
    assert (status, errors) == (
        1,
        [f"error: {tmp_path}/nope.tsv: expected an existing file, got no such file"],
    )


def test_a_config_key_that_does_not_exist(cli, tmp_path):
    status, stderr, _ = cli(train.main, "model.hiden_size=8")
    assert status == 1
    # Hydra's own message names the key and says how to add one on purpose
    assert "Could not override 'model.hiden_size'" in stderr
    assert finished_runs(tmp_path) == []


def test_a_config_value_the_model_refuses(cli, tmp_path):
    status, _, errors = cli(train.main, "model.nonlinearity=sigmoid")
    assert status == 1
    assert errors == ["error: model.nonlinearity: expected one of tanh, relu, got 'sigmoid'"]
    assert finished_runs(tmp_path) == []


def test_resuming_when_there_is_nothing_to_resume(cli, tmp_path):
    status, _, errors = cli(train.main, "ckpt_path=last")
    assert status == 1
    assert errors == [
        "error: ckpt_path=last: expected a last.ckpt of an unfinished sentiment run on this data "
        f"under {tmp_path / 'outputs' / 'sentiment'}, found none"
    ]


def test_evaluating_a_model_uri_that_does_not_exist(cli, tmp_path, write_reviews):
    data = write_reviews([("Fine.", 1)])
    status, _, errors = cli(evaluate.main, "model_uri=models:/rnnpipe-nope/7", f"data_path={data}")
    assert status == 1
    [error] = errors
    assert error.startswith("error: models:/rnnpipe-nope/7: expected an MLflow model, got ")
    assert finished_runs(tmp_path) == []


def test_evaluating_a_checkpoint_that_does_not_exist(cli, tmp_path, write_reviews):
    data = write_reviews([("Fine.", 1)])
    status, _, errors = cli(evaluate.main, f"model_uri={tmp_path}/gone.ckpt", f"data_path={data}")
    assert status == 1
    assert errors == [
        f"error: {tmp_path}/gone.ckpt: expected a checkpoint file or an MLflow model URI "
        "(models:/<name>/<version>, runs:/<run id>/model), got neither"
    ]


def test_evaluating_on_a_bad_file_leaves_no_run(cli, tmp_path, checkpoint):
    data = tmp_path / "eval.tsv"
    data.write_bytes(b"Review\tLiked\nGood.\t1\nSo so.\t3\n")
    status, _, errors = cli(evaluate.main, f"model_uri={checkpoint}", f"data_path={data}")
    assert (status, errors) == (1, [f"error: {data}:3: expected a label of 0 or 1, got '3'"])
    assert not (tmp_path / "mlflow.db").exists()


def test_a_file_that_is_not_a_checkpoint(cli, tmp_path):
    fake = tmp_path / "model.ckpt"
    fake.write_text("not a checkpoint")
    status, _, errors = cli(predict.main, f"model_uri={fake}", "texts=[hello]")
    assert status == 1
    [error] = errors
    assert error.startswith(f"error: {fake}: expected a Lightning checkpoint, got ")


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ("texts=['Great food','  ']",
         "error: input row 1 (text): expected a non-empty review, got '  '"),
        ("texts=['" + "tasty " * 6000 + "']",
         "error: input row 0 (text): expected at most 5000 tokens (data.max_tokens), "
         "got 6000 tokens"),
        ("texts=[]", "error: nothing to predict: expected texts=[...] or input_path=<file>"),
    ],
    ids=["empty text", "huge text", "no text"],
)  # fmt: skip
def test_predicting_bad_texts(cli, checkpoint, texts, expected):
    status, _, errors = cli(predict.main, f"model_uri={checkpoint}", texts)
    assert (status, errors) == (1, [expected])


def test_predicting_from_a_missing_input_file(cli, tmp_path, checkpoint):
    status, _, errors = cli(
        predict.main, f"model_uri={checkpoint}", f"input_path={tmp_path}/in.txt"
    )
    assert (status, errors) == (
        1,
        [f"error: {tmp_path}/in.txt: expected an existing file, got no such file"],
    )


def test_checkpoints_load_without_running_code(checkpoint, tmp_path):
    # a checkpoint carrying a pickled object is refused: weights_only=True all the way
    import torch

    from rnnpipe.errors import RnnpipeError
    from rnnpipe.tasks.registry import load_checkpoint

    saved = torch.load(checkpoint, weights_only=True)
    saved["rnnpipe"]["payload"] = object()
    tampered = tmp_path / "tampered.ckpt"
    torch.save(saved, tampered)
    with pytest.raises(RnnpipeError, match="expected a Lightning checkpoint"):
        load_checkpoint(tampered)
