"""Parallel text: aligned reading with file:line errors, tokenizers, the DataModule."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest
import torch
from conftest import build_datamodule

from rnnpipe.data.tokenization import BOS, EOS, PAD, UNK
from rnnpipe.errors import DataFormatError
from rnnpipe.tasks.translation.corpus import fit_tokenizer, read_parallel, target_path_for
from rnnpipe.tasks.translation.data import TranslationDataModule

ENGLISH = ["A man, in a t-shirt.", "Two dogs run.", "A dog runs (fast)!"]
GERMAN = ["Ein Mann, im T-Shirt.", "Zwei Hunde rennen.", "Ein Hund rennt (schnell)!"]


def write_pair(directory: Path, split: str, english, german, compressed: bool = False):
    """Write ``<split>.en`` / ``<split>.de`` (``.gz`` when compressed); return the .en path."""
    paths = []
    for lang, lines in (("en", english), ("de", german)):
        text = "".join(f"{line}\n" for line in lines).encode("utf-8")
        path = directory / f"{split}.{lang}{'.gz' if compressed else ''}"
        path.write_bytes(gzip.compress(text) if compressed else text)
        paths.append(path)
    return paths[0]


@pytest.mark.parametrize("compressed", [False, True])
def test_lines_pair_up_with_their_line_numbers(tmp_path, compressed):
    source = write_pair(tmp_path, "train", ENGLISH, GERMAN, compressed)
    pairs = read_parallel(source, target_path_for(source, "en", "de"))
    assert [(p.source, p.target, p.line) for p in pairs] == [
        (ENGLISH[0], GERMAN[0], 1),
        (ENGLISH[1], GERMAN[1], 2),
        (ENGLISH[2], GERMAN[2], 3),
    ]


def test_the_target_file_sits_beside_the_source_file(tmp_path):
    assert target_path_for(tmp_path / "val.en", "en", "de") == tmp_path / "val.de"
    assert target_path_for(tmp_path / "val.en.gz", "en", "de") == tmp_path / "val.de.gz"
    with pytest.raises(DataFormatError, match=r"val\.txt: expected a file named <split>\.en"):
        target_path_for(tmp_path / "val.txt", "en", "de")


def test_a_line_count_mismatch_names_both_files_and_the_line(tmp_path):
    source = write_pair(tmp_path, "train", ENGLISH, GERMAN[:2])
    with pytest.raises(DataFormatError) as error:
        read_parallel(source, tmp_path / "train.de")
    assert str(error.value) == (
        f"{tmp_path / 'train.de'}:3: expected a line aligned with {source}:3, got end of file"
    )
    source = write_pair(tmp_path, "more", ENGLISH[:1], GERMAN)
    with pytest.raises(
        DataFormatError, match=r"more\.en:2: expected a line aligned with .*more\.de:2"
    ):
        read_parallel(source, tmp_path / "more.de")


def test_an_empty_side_names_its_file_and_line(tmp_path):
    source = write_pair(tmp_path, "train", ENGLISH, [GERMAN[0], "   ", GERMAN[2]])
    with pytest.raises(DataFormatError) as error:
        read_parallel(source, tmp_path / "train.de")
    assert str(error.value) == (
        f"{tmp_path / 'train.de'}:2: expected a sentence aligned with {source}:2, got an empty line"
    )


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
    source = write_pair(tmp_path, "train", ENGLISH, GERMAN)
    (tmp_path / "train.de").write_bytes(b"Ein Mann.\nZwei \xff Hunde.\nEin Hund.\n")
    with pytest.raises(DataFormatError, match=r"train\.de:2: expected UTF-8 text, got undecodable"):
        read_parallel(source, tmp_path / "train.de")


def test_word_tokenizer_lowercases_splits_punctuation_and_detokenises_exactly():
    tokenizer = fit_tokenizer(GERMAN, kind="word")
    encoding = tokenizer.encode("Ein Mann, im T-Shirt.")
    assert encoding.tokens == ["▁ein", "▁mann", ",", "▁im", "▁t", "-", "shirt", "."]
    assert tokenizer.decode(encoding.ids) == "ein mann, im t-shirt."
    assert [tokenizer.token_to_id(t) for t in (PAD, UNK, BOS, EOS)] == [0, 1, 2, 3]
    assert tokenizer.encode("Ein Elefant.").tokens == ["▁ein", UNK, "."]
    assert tokenizer.decode(tokenizer.encode("Ein Elefant.").ids) == "ein."  # <unk> is dropped


def test_bpe_tokenizer_keeps_case_when_asked_and_respects_its_vocabulary_size():
    tokenizer = fit_tokenizer(GERMAN * 5, kind="bpe", lowercase=False, vocab_size=60)
    assert tokenizer.get_vocab_size() <= 60
    assert tokenizer.decode(tokenizer.encode("Zwei Hunde rennen (schnell).").ids) == (
        "Zwei Hunde rennen (schnell)."
    )
    pieces = tokenizer.encode("Hunde").tokens
    assert "".join(pieces) == "▁Hunde"


def test_tokenizer_kind_is_checked():
    with pytest.raises(ValueError, match="tokenizer kind must be one of"):
        fit_tokenizer(GERMAN, kind="char")


def make_datamodule(tmp_path, **overrides) -> TranslationDataModule:
    train = write_pair(tmp_path, "train", ENGLISH * 2, GERMAN * 2)
    val = write_pair(tmp_path, "val", ["A dog and a cat."], ["Ein Hund und eine Katze."])
    settings = {"train_path": str(train), "val_path": str(val), "test_path": None, "batch_size": 4}
    settings |= overrides
    return build_datamodule("translation", **settings)


def test_batches_hold_sources_and_shifted_targets(tmp_path):
    dm = make_datamodule(tmp_path)
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))
    target = dm.preprocessing.tokenizer("target")
    ids = target.encode("Ein Hund und eine Katze.").ids
    assert batch["target_in"].tolist() == [[2, *ids]]
    assert batch["target_out"].tolist() == [[*ids, 3]]
    assert batch["target_lengths"].tolist() == [len(ids) + 1]
    assert batch["source_lengths"].tolist() == [
        len(dm.preprocessing.tokenizer("source").encode("A dog and a cat.").ids)
    ]
    assert batch["source_texts"] == ["A dog and a cat."]
    assert batch["lines"] == [1]
    # fitted on train only: "and", "cat" and "Katze" appear in val alone
    assert target.token_to_id("▁katze") is None
    assert (
        batch["source"][0].tolist().count(dm.preprocessing.tokenizer("source").token_to_id(UNK))
        == 2
    )
    # no test file: the test split is the val split
    assert dm.splits["test"] == dm.splits["val"]
    kwargs = dm.model_kwargs()
    assert (kwargs["pad_id"], kwargs["bos_id"], kwargs["eos_id"]) == (0, 2, 3)
    assert kwargs["target_vocab_size"] == target.get_vocab_size()


def test_long_training_pairs_are_dropped_and_counted(tmp_path, caplog):
    dm = make_datamodule(tmp_path, max_length=5)
    with caplog.at_level(logging.INFO, logger="rnnpipe.tasks.translation.data"):
        dm.setup("fit")
    # only "Two dogs run." / "Zwei Hunde rennen." have at most 5 tokens (4 each)
    assert dm.dropped_pairs == 4
    assert [e.pair.line for e in dm.splits["train"]] == [2, 5]
    assert "max_length=5: dropped 4 of 6 training pairs" in caplog.text
    assert len(dm.splits["val"]) == 1  # val and test are never filtered


def test_a_fitted_state_reads_only_the_test_file(tmp_path):
    dm = make_datamodule(tmp_path)
    dm.setup("fit")
    state = dm.state_dict()
    path = tmp_path / "state.pt"
    torch.save(state, path)
    restored_state = torch.load(path, weights_only=True)  # plain data only
    test = write_pair(tmp_path, "test", ["Two dogs."], ["Zwei Hunde."], compressed=True)
    (tmp_path / "train.en").unlink()  # the training files are not read again
    fresh = build_datamodule(
        "translation",
        train_path=str(tmp_path / "train.en"),
        val_path=str(tmp_path / "val.en"),
        test_path=str(test),
    )
    fresh.load_state_dict(restored_state)
    fresh.setup("test")
    assert list(fresh.splits) == ["test"]
    [example] = fresh.splits["test"]
    assert example.target_ids == dm.preprocessing.tokenizer("target").encode("Zwei Hunde.").ids
    assert fresh.input_files() == {"test_en": test, "test_de": tmp_path / "test.de.gz"}
    assert set(dm.input_files()) == {"train_en", "train_de", "val_en", "val_de"}


def test_training_batches_come_in_a_seeded_order_that_changes_each_epoch(tmp_path):
    def epoch_order(epoch: int) -> list[int]:
        dm = make_datamodule(tmp_path, batch_size=2, seed=3)
        dm.setup("fit")
        dm.train_sampler.set_epoch(epoch)
        return [line for batch in dm.train_dataloader() for line in batch["lines"]]

    assert epoch_order(0) == epoch_order(0)  # replayable: a resumed run sees the same order
    assert sorted(epoch_order(0)) == [1, 2, 3, 4, 5, 6]
    assert epoch_order(1) != epoch_order(0)
