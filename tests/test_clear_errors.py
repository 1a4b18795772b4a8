"""Bad input that used to end in a traceback or a misleading line (issue 17): each now gives one
``error:`` line naming the file (and line) or the config key and what was expected, exit status
1, and no MLflow run when nothing was trained.

The console entry points run in-process (conftest's ``cli`` fixture), exactly as the installed
scripts call them; a traceback that escaped would be printed to the same stderr.
"""

from __future__ import annotations

import socket

import pytest
from conftest import build_datamodule
from mlflow import MlflowClient

from rnnpipe.cli import evaluate, predict, train
from rnnpipe.errors import RnnpipeError

pytestmark = pytest.mark.slow


def mlflow_runs(tmp_path) -> list:
    """Every run in the test's MLflow store, whatever its status."""
    if not (tmp_path / "mlflow.db").exists():
        return []
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def one_error(outcome: tuple[int, str, list[str]]) -> str:
    """The single ``error:`` line of a run that exited 1 without a traceback."""
    status, stderr, errors = outcome
    assert "Traceback" not in stderr
    assert status == 1
    [error] = errors
    return error


# 1. a reviews file too small for the split fractions ------------------------------------------
def test_a_reviews_file_too_small_to_split(cli, tmp_path, write_reviews):
    reviews = write_reviews([("Good.", 1), ("Bad.", 0), ("Nice.", 1)])
    error = one_error(cli(train.main, f"data.path={reviews}"))
    assert error == (
        f"error: {reviews}: expected enough reviews of each label to split them "
        "(data.val_fraction=0.15, data.test_fraction=0.15), got too few: the val split is empty; "
        "add reviews or raise data.val_fraction"
    )
    assert mlflow_runs(tmp_path) == []  # refused at set-up, before any run started


def test_a_split_the_ner_config_does_not_give_names_its_key(cli, tmp_path):
    datamodule = build_datamodule("ner", "data.test_path=null")
    datamodule.setup("fit")
    with pytest.raises(RnnpipeError, match="^the test split is empty: set data.test_path$"):
        datamodule.test_dataloader()
    # rnnpipe-train asks for the splits it will use before it trains or starts a run
    error = one_error(cli(train.main, "experiment=ner", "data.test_path=null"))
    assert error == "error: the test split is empty: set data.test_path"
    assert mlflow_runs(tmp_path) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("data.tokenizer=chars",), "data.tokenizer: expected one of word, bpe, got 'chars'"),
        (("data.tokenizer=bpe", "data.embeddings_path=vectors.txt"),
         "invalid config: data.embeddings_path: expected word-level tokens (data.tokenizer=word) "
         "for word vectors, got data.tokenizer=bpe"),
    ],
)  # fmt: skip
def test_the_classifier_refuses_a_tokenizer_it_has_not(cli, tmp_path, overrides, message):
    assert one_error(cli(train.main, *overrides)) == f"error: {message}"
    assert mlflow_runs(tmp_path) == []


# 2. a directory where a file is expected -------------------------------------------------------
def test_training_on_a_directory(cli, tmp_path):
    error = one_error(cli(train.main, f"data.path={tmp_path}"))
    assert error == f"error: {tmp_path}: expected an existing file, got a directory"


def test_training_from_a_missing_init_from(cli, tmp_path):
    missing = tmp_path / "pretrained.ckpt"
    error = one_error(cli(train.main, f"model.init_from={missing}"))
    assert error == (
        f"error: model.init_from: {missing}: expected a checkpoint file or an MLflow model URI "
        "(models:/<name>/<version>, runs:/<run id>/model), got neither"
    )
    assert mlflow_runs(tmp_path) == []


def test_evaluating_on_a_directory(cli, tmp_path, checkpoint):
    error = one_error(cli(evaluate.main, f"model_uri={checkpoint}", f"data_path={tmp_path}"))
    assert error == f"error: {tmp_path}: expected a sentiment data file, got a directory"
    assert mlflow_runs(tmp_path) == []


def test_predicting_with_a_directory_as_the_model(cli, tmp_path):
    error = one_error(cli(predict.main, f"model_uri={tmp_path}", "texts=[hello]"))
    assert error == (
        f"error: {tmp_path}: expected a checkpoint file or an MLflow model URI "
        "(models:/<name>/<version>, runs:/<run id>/model), got a directory"
    )


# 3. and 4. files that are not (whole) checkpoints ---------------------------------------------
def damaged_checkpoints(checkpoint, tmp_path) -> dict[str, tuple[object, str]]:
    """``{case: (file, what the error says it is)}``."""
    whole = checkpoint.read_bytes()
    files = {
        "empty": (b"", "an empty file"),
        "truncated": (
            whole[: len(whole) // 2],
            "a truncated file (the end of the zip archive is missing)",
        ),
        "text": (b"hello, I am not a model\n", "a file that is not a PyTorch checkpoint"),
    }
    written = {}
    for case, (content, found) in files.items():
        path = tmp_path / f"{case}.ckpt"
        path.write_bytes(content)
        written[case] = (path, found)
    return written


@pytest.mark.parametrize("case", ["empty", "truncated", "text"])
def test_predicting_with_a_damaged_checkpoint(cli, tmp_path, checkpoint, case):
    path, found = damaged_checkpoints(checkpoint, tmp_path)[case]
    error = one_error(cli(predict.main, f"model_uri={path}", "texts=[hello]"))
    assert error == f"error: {path}: expected a Lightning checkpoint, got {found}"


@pytest.mark.parametrize("case", ["empty", "truncated"])
def test_resuming_from_a_damaged_checkpoint(cli, tmp_path, checkpoint, case):
    path, found = damaged_checkpoints(checkpoint, tmp_path)[case]
    error = one_error(cli(train.main, f"ckpt_path={path}"))
    assert error == f"error: {path}: expected a Lightning checkpoint, got {found}"
    assert mlflow_runs(tmp_path) == []


# 5. a mandatory value not given ---------------------------------------------------------------
def test_evaluating_without_model_uri(cli, tmp_path, write_reviews):
    error = one_error(cli(evaluate.main, f"data_path={write_reviews([('Fine.', 1)])}"))
    assert (
        error == "error: model_uri: expected a value (add model_uri=... to the command), got none"
    )
    assert mlflow_runs(tmp_path) == []


def test_evaluating_a_file_as_a_validation_split(cli, tmp_path, checkpoint, write_reviews):
    reviews = write_reviews([("Fine.", 1)])
    error = one_error(cli(evaluate.main, f"model_uri={checkpoint}", "split=val",
                          f"data_path={reviews}"))  # fmt: skip
    assert error == (
        f"error: split=val: expected no data_path (a file is scored as a test split), got {reviews}"
    )
    error = one_error(cli(evaluate.main, f"model_uri={checkpoint}", "split=train"))
    assert error == "error: split: expected test or val, got 'train'"
    assert mlflow_runs(tmp_path) == []


def test_predicting_without_model_uri(cli):
    error = one_error(cli(predict.main, "texts=[hello]"))
    assert (
        error == "error: model_uri: expected a value (add model_uri=... to the command), got none"
    )


# 6. an output file in a folder that does not exist --------------------------------------------
def test_predicting_into_a_missing_folder(cli, tmp_path, checkpoint):
    output = tmp_path / "no" / "such" / "out.tsv"
    outcome = cli(predict.main, f"model_uri={checkpoint}", "texts=[hi]", f"output_path={output}")
    error = one_error(outcome)
    assert error == (
        f"error: output_path={output}: expected a file in an existing directory, "
        f"got no directory {output.parent}"
    )
    assert not (tmp_path / "no").exists()  # refused, not created


# 7. an unreachable tracking server: the hint names the command's own key ----------------------
def test_predicting_from_an_unreachable_tracking_server(cli):
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    model = "model_uri=models:/rnnpipe-sentiment/1"
    outcome = cli(predict.main, model, "texts=[hi]", f"tracking_uri={uri}")
    error = one_error(outcome)
    assert error.startswith(f"error: MLflow tracking server {uri} is unreachable (")
    assert error.endswith("; start it with `make server` or choose another tracking_uri")


# 8. and 9. CoNLL errors point at the offending line and quote the tag as written --------------
BROKEN_IOB2 = """-DOCSTART- -X- -X- O

John NNP B-NP B-PER
lives VBZ B-VP O
in IN B-PP O

Berlin NNP B-NP I-LOC
. . O O
"""


def test_a_broken_iob2_tag_is_reported_at_its_line(cli, tmp_path):
    train_file = tmp_path / "train.txt"
    train_file.write_text(BROKEN_IOB2, encoding="utf-8")
    overrides = ("experiment=ner", f"data.train_path={train_file}", "data.repair_tags=false")
    error = one_error(cli(train.main, *overrides))
    assert error == (
        f"error: {train_file}:7: expected an IOB2 tag sequence, got 'I-LOC' after 'O' "
        "(set data.repair_tags=true to read it as conlleval does)"
    )
    assert mlflow_runs(tmp_path) == []


def test_an_unseen_entity_type_is_quoted_as_written(cli, tmp_path):
    val_file = tmp_path / "valid.txt"
    val_file.write_text("Germany NNP B-NP B-LOC\nMonday NNP B-NP B-DATE\n", encoding="utf-8")
    error = one_error(cli(train.main, "experiment=ner", f"data.val_path={val_file}"))
    assert error == (
        f"error: {val_file}:2: expected an entity type seen in training "
        "['LOC', 'MISC', 'ORG', 'PER'], got 'B-DATE'"
    )  # not its BIOES form 'S-DATE'
    assert mlflow_runs(tmp_path) == []
