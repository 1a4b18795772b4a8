"""The most-frequent-tag baseline: valid tag sequences, and conlleval's counts by hand."""

from __future__ import annotations

from conftest import build_datamodule

from rnnpipe.tasks.ner.baseline import MostFrequentTag, most_frequent_tags, tag_sentence

TRAIN = """John B-PER
lives O
in O
New B-LOC
York I-LOC

Mary B-PER
visited O
York B-LOC
"""
VAL = """John B-PER
visited O
Paris B-LOC

New B-LOC
York I-LOC
is O
big O

Mary B-PER
lives O
in O
York B-LOC

visited O
New O
places O
"""


def test_each_word_takes_its_most_frequent_training_tag_in_a_valid_sequence(tmp_path):
    (tmp_path / "train.txt").write_text(TRAIN)
    train = f"{tmp_path}/train.txt"
    datamodule = build_datamodule(
        "ner", f"data.train_path={train}", f"data.val_path={train}", "data.test_path=null"
    )
    datamodule.setup("fit")
    lexicon = most_frequent_tags(datamodule.splits["train"])
    # BIOES, the training scheme: York was E-LOC once and S-LOC once, a tie that goes to E-LOC
    assert lexicon == {"John": "S-PER", "lives": "O", "in": "O", "New": "B-LOC",
                       "York": "E-LOC", "Mary": "S-PER", "visited": "O"}  # fmt: skip
    # E-LOC alone, B-LOC with no E-LOC: read as conlleval reads them, one-token chunks
    assert tag_sentence(["in", "York"], lexicon, "BIOES") == ["O", "S-LOC"]
    assert tag_sentence(["New", "places"], lexicon, "BIOES") == ["S-LOC", "O"]
    assert tag_sentence(["New", "York", "?"], lexicon, "BIOES") == ["B-LOC", "E-LOC", "O"]


def test_scores_are_conllevals_counted_by_hand(tmp_path):
    (tmp_path / "train.txt").write_text(TRAIN)
    (tmp_path / "valid.txt").write_text(VAL)
    files = {"train": "train.txt", "val": "valid.txt", "test": "valid.txt"}
    datamodule = build_datamodule(
        "ner", *(f"data.{split}_path={tmp_path}/{name}" for split, name in files.items())
    )
    datamodule.setup("fit")
    scored = MostFrequentTag().score(datamodule)

    # gold chunks: PER LOC | LOC | PER LOC | none = 5; predicted: PER (Paris unseen) | New York |
    # Mary, York | New (a false LOC) = 5, of which 4 are right: P = R = F1 = 0.8
    for split in ("val", "test"):
        assert abs(scored.metrics[f"{split}/precision"] - 0.8) < 1e-6
        assert abs(scored.metrics[f"{split}/recall"] - 0.8) < 1e-6
        assert abs(scored.metrics[f"{split}/f1"] - 0.8) < 1e-6
    # tokens: 14, wrong: Paris (O for S-LOC), New in the last sentence (S-LOC for O)
    assert abs(scored.metrics["val/acc"] - 12 / 14) < 1e-6
    entities = scored.reports["predictions/test_entities.tsv"]
    assert entities["line"].tolist() == [1, 5, 10, 15]
    assert entities[["true_positives", "false_positives", "false_negatives"]].sum().tolist() == [
        4, 1, 1
    ]  # fmt: skip
