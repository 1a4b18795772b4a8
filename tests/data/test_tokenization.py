"""Word and subword tokenizers: normalisation, specials, min_frequency, unseen words, save/load;
padding and lengths."""

from __future__ import annotations

import pytest
from conftest import build_datamodule
from tokenizers import Tokenizer

from rnnpipe.data.tokenization import (
    PAD,
    UNK,
    encode_texts,
    fit_bpe_tokenizer,
    fit_word_tokenizer,
    pad_batch,
)


def test_specials_first_lowercase_unicode_and_punctuation():
    tokenizer = fit_word_tokenizer(["The CAFÉ was great!", "the cafe"], min_frequency=1)
    assert tokenizer.token_to_id(PAD) == 0
    assert tokenizer.token_to_id(UNK) == 1
    assert tokenizer.encode("The café was great!!").tokens == [
        "the",
        "café",
        "was",
        "great",
        "!",
        "!",
    ]
    # NFKC folds compatibility forms: the ligature "ﬁ" reads as "fi"
    assert fit_word_tokenizer(["ﬁne"]).encode("fine").tokens == ["fine"]


def test_min_frequency_sends_rare_words_to_unk():
    tokenizer = fit_word_tokenizer(["good good bad"], min_frequency=2)
    assert tokenizer.encode("good bad").tokens == ["good", UNK]


def test_case_is_kept_when_asked():
    tokenizer = fit_word_tokenizer(["Paris paris"], lowercase=False)
    assert tokenizer.encode("Paris paris PARIS").tokens == ["Paris", "paris", UNK]


def test_save_and_load_round_trip(tmp_path):
    tokenizer = fit_word_tokenizer(["the food was delicious", "service was slow"])
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    loaded = Tokenizer.from_file(str(path))
    texts = ["The food was slow, delicious!", "unseen words"]
    assert encode_texts(loaded, texts) == encode_texts(tokenizer, texts)
    assert loaded.get_vocab() == tokenizer.get_vocab()


def test_pad_batch_pads_right_and_returns_lengths():
    tokens, lengths = pad_batch([[5, 6, 7], [8], [9, 10]], pad_id=0)
    assert tokens.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert lengths.tolist() == [3, 1, 2]


def test_pad_batch_refuses_empty_sequences():
    with pytest.raises(ValueError, match="at least one token"):
        pad_batch([[1], []], pad_id=0)


def test_min_frequency_must_be_positive():
    with pytest.raises(ValueError, match="min_frequency"):
        fit_word_tokenizer(["a"], min_frequency=0)


def test_a_bpe_tokenizer_spells_an_unseen_word_in_seen_pieces():
    train = ["I was disgusted.", "Disgusted again!", "amazing amazing food", "boring boring"]
    tokenizer = fit_bpe_tokenizer(train, vocab_size=60)
    assert tokenizer.token_to_id(PAD) == 0 and tokenizer.token_to_id(UNK) == 1
    assert tokenizer.get_vocab_size() <= 60
    assert fit_word_tokenizer(train).encode("disgusting").tokens == [UNK]
    pieces = tokenizer.encode("Disgusting!").tokens
    assert UNK not in pieces and len(pieces) > 2 and pieces[-1] == "!"
    assert "".join(pieces[:-1]) == "disgusting"  # lowercased pieces, punctuation split off
    assert tokenizer.encode("disgusted").tokens == ["disgusted"]  # a frequent word is one piece
    kiwi = tokenizer.encode("kiwi").tokens  # "k" never seen: only that piece is unknown
    assert kiwi[0] == UNK and kiwi.count(UNK) == 1 and "".join(kiwi[1:]) == "iwi"


def test_a_bpe_vocabulary_must_hold_more_than_its_specials():
    with pytest.raises(ValueError, match="vocab_size"):
        fit_bpe_tokenizer(["a"], vocab_size=2)


def test_the_classifier_reads_bpe_pieces_of_its_train_split():
    def unknown_tokens(*overrides: str) -> tuple[int, int]:
        datamodule = build_datamodule("sentiment", *overrides)
        datamodule.setup("fit")
        tokenizer = datamodule.preprocessing.tokenizer("tokenizer")
        unk = tokenizer.token_to_id(UNK)
        found = sum(int((b["tokens"] == unk).sum()) for b in datamodule.val_dataloader())
        return found, tokenizer.get_vocab_size()

    words, _ = unknown_tokens()
    pieces, vocab_size = unknown_tokens("data.tokenizer=bpe", "data.vocab_size=300")
    assert vocab_size == 300  # the sample has more words than that
    assert words > 20 and pieces <= 2  # an unseen word is spelled; only unseen characters are not
