"""Every task bounds the length of an example: cut to ``data.max_tokens`` and counted, or
refused with its file and line under ``data.length_policy=strict``; serving refuses longer
inputs naming the row and the limit."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from conftest import build_datamodule, build_model
from hydra.errors import InstantiationException

from rnnpipe.errors import DataFormatError
from rnnpipe.tasks.ner.schemes import read_chunks

LONG = " ".join(f"word{i}" for i in range(30))


def test_a_long_review_is_cut_after_max_tokens_and_counted(write_reviews, caplog):
    path = write_reviews([("short and sweet", 1), (LONG, 0), ("fine", 1), ("bad", 0)])
    datamodule = build_datamodule(
        "sentiment", path=str(path), val_fraction=0.0, test_fraction=0.0, max_tokens=10
    )
    with caplog.at_level(logging.WARNING, logger="rnnpipe.data.datamodule"):
        datamodule.setup("fit")
    [cut] = [r for r in datamodule.splits["train"] if r.text.startswith("word0")]
    assert cut.text == " ".join(f"word{i}" for i in range(10))  # whole tokens, in order
    assert cut.line == 3
    assert datamodule.truncation_metrics() == {"data/truncated": 1.0, "data/truncated_train": 1.0}
    assert "data.max_tokens=10: cut 1 of 4 train examples" in caplog.text
    assert max(datamodule.collate(datamodule.splits["train"])["lengths"].tolist()) == 10


def test_strict_refuses_the_long_example_with_its_file_and_line(write_reviews):
    path = write_reviews([("short and sweet", 1), (LONG, 0), ("fine", 1), ("bad", 0)])
    datamodule = build_datamodule(
        "sentiment",
        path=str(path),
        val_fraction=0.0,
        test_fraction=0.0,
        max_tokens=10,
        length_policy="strict",
    )
    with pytest.raises(DataFormatError) as caught:
        datamodule.setup("fit")
    assert str(caught.value) == (
        f"{path}:3: expected an example of at most 10 tokens (data.max_tokens), got 30 tokens"
    )
    with pytest.raises(InstantiationException, match="length_policy must be one of"):
        build_datamodule("sentiment", path=str(path), length_policy="drop")


def test_a_long_sentence_is_cut_and_its_cut_entity_ends_there(tmp_path):
    rows = ["EU B-ORG", "rejects O", "Peter B-PER", "Blackburn I-PER", "Smith I-PER", ""]
    train = tmp_path / "train.txt"
    train.write_text("\n".join(rows) + "\n")
    datamodule = build_datamodule(
        "ner", train_path=str(train), val_path=str(train), test_path=None, max_tokens=4
    )
    datamodule.setup("fit")
    [sentence] = datamodule.splits["train"]
    assert sentence.words == ("EU", "rejects", "Peter", "Blackburn")
    assert sentence.tags == ("S-ORG", "O", "B-PER", "E-PER")  # a valid BIOES sequence
    assert [(c.type, c.start, c.end) for c in read_chunks(sentence.tags)] == [
        ("ORG", 0, 1),
        ("PER", 2, 4),
    ]
    assert datamodule.truncated == {"train": 1, "val": 1}


def test_translation_cuts_both_sides_in_every_split(tmp_path):
    for split in ("train", "val"):
        (tmp_path / f"{split}.en").write_text("a b c d e f g\nshort one\n")
        (tmp_path / f"{split}.de").write_text("eins zwei\nkurz\n")
    datamodule = build_datamodule(
        "translation",
        train_path=str(tmp_path / "train.en"),
        val_path=str(tmp_path / "val.en"),
        test_path=None,
        max_tokens=4,
        max_length=None,
    )
    datamodule.setup("fit")
    for split in ("train", "val", "test"):
        assert [len(e.source_ids) for e in datamodule.splits[split]] == [4, 2]
    assert datamodule.truncation_metrics()["data/truncated"] == 3  # one pair in each split


def test_a_generated_reviews_characters_are_cut(write_reviews):
    path = write_reviews([("A" * 50, 1), ("Bad.", 0), ("Good.", 1), ("Meh.", 0)])
    datamodule = build_datamodule(
        "generation",
        path=str(path),
        val_fraction=0.0,
        test_fraction=0.0,
        layout="reviews",
        max_tokens=20,
    )
    datamodule.setup("fit")
    assert max(len(row.inputs) for row in datamodule.splits["train"]) == 21  # <s> + 20
    assert datamodule.truncated == {"train": 1}


def test_serving_refuses_an_input_longer_than_the_training_limit():
    words = ["w"] * 12
    tagger = build_model(
        "ner", vocab_size=4, char_vocab_size=4, num_casings=8, labels=["O", "S-PER"],
        tag_scheme="BIOES", pad_id=0, unk_id=1, char_pad_id=0,
        preprocessing={"max_word_length": 5}, data_config={"max_tokens": 10},
    )  # fmt: skip
    with pytest.raises(
        ValueError, match=r"row 0 \(tokens\): expected at most 10 tokens \(data.max_tokens"
    ):
        tagger.predict_frame(pd.DataFrame({"tokens": [words]}))
