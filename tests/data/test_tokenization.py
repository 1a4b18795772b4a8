"""Word tokenizer: normalisation, specials, min_frequency, save/load; padding and lengths."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from rnnpipe.data.tokenization import PAD, UNK, encode_texts, fit_word_tokenizer, pad_batch


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
