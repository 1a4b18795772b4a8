"""Unlabelled text as the generator's data (``data=text_corpus``), and a model of it passed on to
the review generator by ``model.init_from``."""

from __future__ import annotations

import pytest
import torch
from conftest import SAMPLE_DATA, build_datamodule, built_on_sample
from hydra.errors import InstantiationException

from rnnpipe.errors import DataFormatError
from rnnpipe.tasks.generation.corpus import detokenize, read_corpus_file
from rnnpipe.tasks.ner.conll import read_conll
from rnnpipe.training.init_from import init_from

CAPTIONS = SAMPLE_DATA / "multi30k_sample" / "train.en"
CONLL = SAMPLE_DATA / "conll2003_sample" / "train.txt"


def corpus_datamodule(*overrides: str, **arguments):
    datamodule = build_datamodule("generation", "data=text_corpus", *overrides, **arguments)
    datamodule.setup("fit")
    return datamodule


def test_conll_tokens_are_detokenised_into_running_text():
    assert detokenize(["EU", "rejects", "German", "call", "."]) == "EU rejects German call."
    assert detokenize(["we", "do", "n't", "see", "it", ",", "he", "said"]) == (
        "we don't see it, he said"
    )
    assert detokenize(["the", "Commission", "'s", "chief", "(", "AP", ")", "won", "5", "%"]) == (
        "the Commission's chief (AP) won 5%"
    )


def test_a_lines_file_gives_each_non_blank_line_with_its_number(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_text("A dog runs.\n\n  Two men sit.  \n")
    texts = read_corpus_file(str(path), "lines")
    assert [(t.text, t.line, t.label, t.source) for t in texts] == [
        ("A dog runs.", 1, 0, str(path)),
        ("Two men sit.", 3, 0, str(path)),
    ]


def test_the_corpus_pools_every_text_of_its_files_into_disjoint_splits():
    datamodule = corpus_datamodule("data.val_fraction=0.1", "data.test_fraction=0.1")
    splits = datamodule.read_splits()
    captions = [line for line in CAPTIONS.read_text().splitlines() if line.strip()]
    sentences = read_conll(CONLL)
    assert len(splits["val"]) > 0 and len(splits["test"]) > 0
    pooled = [(t.source, t.line) for split in splits.values() for t in split]
    assert len(pooled) == len(set(pooled)) == len(captions) + len(sentences)
    assert sorted(t.text for split in splits.values() for t in split) == sorted(
        captions + [detokenize(s.words) for s in sentences]
    )
    kwargs = datamodule.model_kwargs()
    assert kwargs["labels"] == ["text"]
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["labels"].max().item() == 0  # one condition


def test_a_test_file_of_its_own_replaces_the_held_out_part(tmp_path):
    path = tmp_path / "held_out.txt"
    path.write_text("A cat sleeps.\nTwo birds sing.\n")
    datamodule = corpus_datamodule(f"data.test_path={path}", "data.test_fraction=0.3")
    assert [t.text for t in datamodule.read_splits()["test"]] == [
        "A cat sleeps.",
        "Two birds sing.",
    ]
    pooled = sum(len(datamodule.read_splits()[split]) for split in ("train", "val"))
    assert pooled == len(read_corpus_file(str(CAPTIONS), "lines")) + len(read_conll(CONLL))
    assert datamodule.input_files()["test"] == path


def test_a_corpus_file_of_an_unknown_format_is_refused_by_its_key():
    with pytest.raises(InstantiationException, match=r"data\.corpus\.captions\.format: expected"):
        corpus_datamodule(
            corpus={"captions": {"path": str(CAPTIONS), "format": "csv"}},
        )


def test_a_corpus_file_mapped_to_null_is_left_out():
    datamodule = corpus_datamodule("data.corpus.multi30k_en=null")
    sources = {t.source for split in datamodule.read_splits().values() for t in split}
    assert sources == {str(CONLL)}
    assert list(datamodule.input_files()) == ["conll2003"]
    with pytest.raises(InstantiationException, match=r"data\.corpus: expected at least one file"):
        corpus_datamodule("data.corpus.multi30k_en=null", "data.corpus.conll2003=null")


def test_a_missing_corpus_file_is_named():
    datamodule = build_datamodule(
        "generation",
        "data=text_corpus",
        corpus={"captions": {"path": "no/such/captions.txt", "format": "lines"}},
    )
    with pytest.raises(DataFormatError, match="no/such/captions.txt"):
        datamodule.setup("fit")


def test_a_corpus_model_passes_its_recurrence_and_its_token_rows_to_the_review_generator():
    source = built_on_sample("generation", "data=text_corpus")
    target = built_on_sample("generation")
    before = {name: value.detach().clone() for name, value in target.named_parameters()}
    transfer = init_from(target, source, "corpus.ckpt", {})

    # one condition ("text") against two labels: only the label embedding keeps its own
    assert set(transfer.skipped_for_shape) == {"label_embedding.weight"}
    assert "initial_state.weight" in transfer.copied and "rnn.weight_hh_l0" in transfer.copied
    target_vocab = target.tokenizer().get_vocab()
    source_vocab = source.tokenizer().get_vocab()
    shared = set(target_vocab) & set(source_vocab)
    assert 0 < len(shared) < len(target_vocab)  # the reviews have characters the corpus has not
    for name in ("embedding.weight", "head.weight", "head.bias"):
        assert transfer.by_token[name] == {"copied": len(shared), "rows": len(target_vocab)}
        after, source_rows = (
            dict(target.named_parameters())[name],
            dict(source.named_parameters())[name],
        )
        for token, row in target_vocab.items():
            expected = source_rows[source_vocab[token]] if token in shared else before[name][row]
            assert torch.equal(after[row], expected), (name, token)
