"""The CoNLL reader, its errors, the vocabularies, word vectors and the NER DataModule."""

from __future__ import annotations

import io
import logging

import pytest
import torch
from conftest import SAMPLE_DATA, build_datamodule

from rnnpipe.data.word_vectors import read_word_vectors
from rnnpipe.errors import DataFormatError
from rnnpipe.tasks.ner.conll import Sentence, read_conll, read_tagged_file
from rnnpipe.tasks.ner.data import NerDataModule
from rnnpipe.tasks.ner.features import (
    CASINGS,
    casing,
    encode_sentences,
    fit_character_vocabulary,
    fit_word_vocabulary,
    split_sentence,
)

FOUR_COLUMNS = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O


Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
-DOCSTART- -X- -X- O
BRUSSELS NNP B-NP B-LOC
"""


def write(tmp_path, text: str, name: str = "data.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_four_column_file_is_read_exactly(tmp_path):
    sentences = read_conll(write(tmp_path, FOUR_COLUMNS))
    assert sentences == [
        Sentence(("EU", "rejects", "German", "call"), ("B-ORG", "O", "B-MISC", "O"), (3, 4, 5, 6)),
        Sentence(("Peter", "Blackburn"), ("B-PER", "I-PER"), (9, 10)),
        Sentence(("BRUSSELS",), ("B-LOC",), (12,)),  # -DOCSTART- also ends a sentence
    ]


def test_two_column_file_with_crlf_and_no_final_newline(tmp_path):
    path = tmp_path / "two.txt"
    path.write_bytes(b"Germany\tB-LOC\r\nbeats O\r\n\r\nFrance B-LOC")
    assert read_conll(path) == [
        Sentence(("Germany", "beats"), ("B-LOC", "O"), (1, 2)),
        Sentence(("France",), ("B-LOC",), (4,)),
    ]


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (
            "EU NNP B-ORG\n",
            1,
            "expected 2 columns (token NER) or 4 columns (token POS chunk NER), got 3 columns",
        ),
        (
            "EU B-ORG\nrejects VBZ B-VP O\n",
            2,
            "expected 2 columns like the file's first token line, got 4 columns",
        ),
        ("EU B-ORG\nrejects E-ORG\n", 2, "expected a tag O, B-<type> or I-<type>, got 'E-ORG'"),
        ("EU ORG\n", 1, "got 'ORG'"),
        ("-DOCSTART- O\n\n", None, "expected at least one tagged sentence, got none"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, text, line, expected):
    path = write(tmp_path, text)
    with pytest.raises(DataFormatError) as caught:
        read_conll(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: " if line else f"{path}: ")
    assert expected in str(caught.value)


IOB1 = "Peter I-PER\nBlackburn I-PER\nSmith B-PER\nin O\nLondon I-LOC\n"


def test_iob1_file_is_detected_and_converted(tmp_path):
    path = write(tmp_path, IOB1)
    [iob2] = read_tagged_file(path, "auto", "IOB2", repair_tags=False)
    assert iob2.tags == ("B-PER", "I-PER", "B-PER", "O", "B-LOC")
    [bioes] = read_tagged_file(path, "IOB1", "BIOES", repair_tags=False)
    assert bioes.tags == ("B-PER", "E-PER", "S-PER", "O", "S-LOC")


def test_broken_iob2_is_repaired_or_refused(tmp_path, caplog):
    path = write(tmp_path, "EU B-ORG\nsaid O\nGerman I-MISC\nlamb O\n")
    with caplog.at_level(logging.WARNING):
        [sentence] = read_tagged_file(path, "IOB2", "IOB2", repair_tags=True)
    assert sentence.tags == ("B-ORG", "O", "B-MISC", "O")
    assert "1 tags break IOB2" in caplog.text
    with pytest.raises(DataFormatError) as caught:
        read_tagged_file(path, "IOB2", "BIOES", repair_tags=False)
    assert str(caught.value).startswith(
        f"{path}:3: expected an IOB2 tag sequence, got 'I-MISC' after 'O'"
    )
    with pytest.raises(ValueError, match="input_scheme must be auto or one of"):
        read_tagged_file(path, "BIO", "IOB2", repair_tags=True)


def test_casing_classes():
    cases = {
        "germany": "lower",
        "Germany": "Title",
        "EU": "UPPER",
        "McDonald": "mixed",
        "1996": "digits",
        "1996-08-22": "has_digit",
        ",": "other",
        "A": "UPPER",
    }
    assert {word: casing(word) for word in cases} == cases
    assert set(cases.values()) < set(CASINGS)


def test_raw_sentences_split_like_conll():
    assert split_sentence("Peter Blackburn's U.S. trip on 1996-08-22, don't worry.") == [
        "Peter",
        "Blackburn",
        "'s",
        "U.S.",
        "trip",
        "on",
        "1996-08-22",
        ",",
        "do",
        "n't",
        "worry",
        ".",
    ]
    assert split_sentence("   ") == []


def test_vocabularies_and_encoding():
    train = [Sentence(("EU", "rejects", "EU", "calls"), ("B-ORG", "O", "B-ORG", "O"), (1, 2, 3, 4))]
    words = fit_word_vocabulary(train, min_frequency=2, lowercase=True)
    assert words.get_vocab() == {"<pad>": 0, "<unk>": 1, "eu": 2}
    chars = fit_character_vocabulary(train)
    assert chars.token_to_id("E") is not None and chars.token_to_id("e") is not None
    batch = encode_sentences([["Eu", "rejects", "EU"], ["calls"]], words, chars, max_word_length=4)
    assert batch["words"].tolist() == [[2, 1, 2], [1, 0, 0]]
    assert batch["lengths"].tolist() == [3, 1]
    assert batch["casing"].tolist() == [
        [CASINGS.index("Title"), CASINGS.index("lower"), CASINGS.index("UPPER")],
        [CASINGS.index("lower"), 0, 0],
    ]
    assert batch["chars"].shape == (2, 3, 4)  # "rejects" and "calls" cut to 4 characters
    assert batch["char_lengths"].tolist() == [[2, 4, 2], [4, 0, 0]]
    assert batch["chars"][0, 2, :2].tolist() == [chars.token_to_id("E"), chars.token_to_id("U")]
    assert (batch["chars"][1, 1:] == 0).all()


def test_word_vectors_in_glove_format(tmp_path):
    path = write(tmp_path, "3 2\nthe 0.5 -1\ngermany 1 2\nEU 3 4\n", "vectors.txt")
    vocabulary = {"<pad>": 0, "<unk>": 1, "Germany": 2, "EU": 3, "lamb": 4}
    vectors = read_word_vectors(path, vocabulary)
    matrix = vectors.matrix
    assert (vectors.found, vectors.words) == (2, 3)  # Germany, EU of 3 words (specials aside)
    assert vectors.coverage == 2 / 3
    assert matrix.shape == (5, 2)
    assert matrix[0].tolist() == [0.0, 0.0]
    assert matrix[2].tolist() == [1.0, 2.0]  # found in lowercase
    assert matrix[3].tolist() == [3.0, 4.0]
    assert torch.isfinite(matrix[4]).all() and matrix[4].abs().sum() > 0  # random, not zero
    bad = write(tmp_path, "the 0.5 -1\ngermany 1 2 3\n", "bad.txt")
    with pytest.raises(DataFormatError, match=r"bad.txt:2: expected a word and 2 numbers"):
        read_word_vectors(bad, vocabulary)
    lonely = write(tmp_path, "the 0.5 -1\n\ngermany\n", "lonely.txt")
    with pytest.raises(DataFormatError, match=r"lonely.txt:3: expected a word and 2 numbers"):
        read_word_vectors(lonely, vocabulary)


def sample_module(**overrides) -> NerDataModule:
    arguments = dict(
        train_path=str(SAMPLE_DATA / "conll2003_sample" / "train.txt"),
        val_path=str(SAMPLE_DATA / "conll2003_sample" / "valid.txt"),
        test_path=str(SAMPLE_DATA / "conll2003_sample" / "test.txt"),
        batch_size=4,
    )
    return build_datamodule("ner", **(arguments | overrides))


def test_datamodule_fits_on_train_and_batches_tags():
    module = sample_module()
    module.setup("fit")
    assert (
        module.preprocessing["labels"][0] == "O"
        and len(module.preprocessing["labels"]) == 1 + 4 * 4
    )  # BIOES x 4 types
    train_words = {w for s in module.splits["train"] for w in s.words}
    assert (
        set(module.preprocessing.tokenizer("words").get_vocab()) - {"<pad>", "<unk>"} == train_words
    )
    batch = next(iter(module.val_dataloader()))
    first = module.splits["val"][0]
    assert batch["tokens"][0] == list(first.words)
    assert [
        module.preprocessing["labels"][i] for i in batch["tags"][0, : len(first.words)]
    ] == list(first.tags)
    assert batch["words"].shape == batch["tags"].shape == batch["casing"].shape
    kwargs = module.model_kwargs()
    assert kwargs["labels"] == module.preprocessing["labels"] and kwargs["tag_scheme"] == "BIOES"
    assert kwargs["vocab_size"] == module.preprocessing.tokenizer("words").get_vocab_size()
    assert set(module.input_files()) == {"train", "val", "test"}


def test_state_survives_torch_load_and_scores_only_the_test_file(tmp_path):
    module = sample_module()
    module.setup("fit")
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    new_file = write(tmp_path, "Germany B-LOC\nwins O\n\nJohn B-PER\n", "new.txt")
    restored = sample_module(
        train_path="missing.txt", val_path="missing.txt", test_path=str(new_file)
    )
    restored.load_state_dict(state)
    restored.setup("test")
    assert set(restored.splits) == {"test"}
    assert restored.input_files() == {"test": new_file}
    assert restored.splits["test"][0].tags == ("S-LOC", "O")
    assert (
        restored.preprocessing.tokenizer("words").get_vocab()
        == module.preprocessing.tokenizer("words").get_vocab()
    )

    unknown = write(tmp_path, "Germany B-LOC\nMonday B-DATE\n", "unknown.txt")
    restored = sample_module(test_path=str(unknown))
    restored.load_state_dict(state)
    with pytest.raises(DataFormatError) as caught:
        restored.setup("test")
    assert str(caught.value).startswith(f"{unknown}:2: expected an entity type seen in training")
    assert "got 'B-DATE'" in str(caught.value)  # as the file writes it, not converted (S-DATE)


def test_embeddings_path_gives_the_model_an_initial_matrix(tmp_path):
    vectors = write(tmp_path, "germany 0.25 0.5 0.75\n", "vectors.txt")
    module = sample_module(embeddings_path=str(vectors))
    module.setup("fit")
    matrix = module.model_kwargs()["pretrained_embeddings"]
    assert matrix.shape == (module.preprocessing.tokenizer("words").get_vocab_size(), 3)
    assert matrix[module.preprocessing.tokenizer("words").token_to_id("Germany")].tolist() == [
        0.25,
        0.5,
        0.75,
    ]
    assert module.input_files()["embeddings"] == vectors
