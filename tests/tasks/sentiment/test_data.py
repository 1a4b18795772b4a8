"""The sentiment DataModule: fitted on train only, padded batches, a test file of its own."""

from __future__ import annotations

import torch
from conftest import build_datamodule


def test_datamodule_fits_tokenizer_on_train_split_only(write_reviews):
    rows = [(f"common word{i}", i % 2) for i in range(40)]
    datamodule = build_datamodule(
        "sentiment", path=str(write_reviews(rows)), val_fraction=0.25, test_fraction=0.25
    )
    datamodule.setup("fit")
    vocab = datamodule.preprocessing.tokenizer("tokenizer").get_vocab()
    train_words = {r.text.split()[1] for r in datamodule.splits["train"]}
    held_out = {r.text.split()[1] for s in ("val", "test") for r in datamodule.splits[s]}
    assert train_words <= vocab.keys()
    assert not held_out & vocab.keys()
    assert len(datamodule.splits["train"]) == 20


def test_batches_are_padded_with_lengths(write_reviews):
    rows = [("good", 1), ("really bad food here", 0), ("fine place", 1), ("awful", 0)]
    datamodule = build_datamodule(
        "sentiment", path=str(write_reviews(rows)), val_fraction=0.0, test_fraction=0.0
    )
    datamodule.setup("fit")
    batch = datamodule.collate(datamodule.splits["train"])
    assert batch["tokens"].shape == (4, 4)
    assert batch["lengths"].tolist() == [1, 4, 2, 1]
    assert batch["labels"].tolist() == [1, 0, 1, 0]
    pad = datamodule.preprocessing.tokenizer("tokenizer").token_to_id("<pad>")
    assert batch["tokens"][0, 1:].tolist() == [pad] * 3
    assert (batch["tokens"][1] != pad).all()


def test_explicit_test_file_replaces_the_held_out_split(write_reviews):
    train_file = write_reviews([(f"w{i}", i % 2) for i in range(20)], name="train.tsv")
    test_file = write_reviews([("brand new", 1), ("other", 0)], name="test.tsv")
    datamodule = build_datamodule(
        "sentiment", path=str(train_file), test_path=str(test_file), val_fraction=0.2
    )
    datamodule.setup("fit")
    assert [r.text for r in datamodule.splits["test"]] == ["brand new", "other"]
    assert len(datamodule.splits["train"]) + len(datamodule.splits["val"]) == 20


def test_restored_state_evaluates_a_new_file_without_refitting(write_reviews):
    train_file = write_reviews([("good food", 1), ("bad food", 0)] * 5, name="train.tsv")
    fitted = build_datamodule(
        "sentiment", path=str(train_file), val_fraction=0.2, test_fraction=0.2
    )
    fitted.setup("fit")
    new_file = write_reviews([("good unseen", 1)], name="new.tsv")
    restored = build_datamodule("sentiment", path="/does/not/matter.tsv", test_path=str(new_file))
    restored.load_state_dict(fitted.state_dict())
    restored.setup("test")
    batch = next(iter(restored.test_dataloader()))
    tokenizer = fitted.preprocessing.tokenizer("tokenizer")
    assert batch["tokens"].tolist() == [
        [tokenizer.token_to_id("good"), tokenizer.token_to_id("<unk>")]
    ]
    assert torch.equal(batch["labels"], torch.tensor([1]))
