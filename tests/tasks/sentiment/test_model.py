"""The sentiment module's pooling, shapes and input checks."""

from __future__ import annotations

import pytest
import torch
from conftest import build_model
from hydra.errors import InstantiationException

from rnnpipe.data.tokenization import fit_word_tokenizer
from rnnpipe.tasks.sentiment.model import SentimentClassifier


def make_classifier(**overrides) -> SentimentClassifier:
    tokenizer = fit_word_tokenizer(["good food", "bad food"])
    arguments = dict(
        vocab_size=tokenizer.get_vocab_size(),
        labels=["negative", "positive"],
        pad_id=0,
        embedding_dim=8,
        hidden_size=6,
        dropout=0.0,
        preprocessing={"tokenizers": {"tokenizer": tokenizer.to_str()}},
    )
    return build_model("sentiment", **(arguments | overrides)).eval()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_pooling_takes_each_reviews_own_final_states(bidirectional):
    model = make_classifier(bidirectional=bidirectional, num_layers=2, pooling="last")
    tokens = torch.tensor([[2, 3, 4, 0], [3, 4, 0, 0]])
    lengths = torch.tensor([3, 2])
    outputs, h_n = model.rnn(model.embedding(tokens), lengths=lengths)
    pooled = model.pool(outputs, h_n, lengths)
    hidden = 6
    # forward direction: the output at the last valid step; reverse: the output at step 0
    assert torch.allclose(pooled[0, :hidden], outputs[0, 2, :hidden])
    assert torch.allclose(pooled[1, :hidden], outputs[1, 1, :hidden])
    if bidirectional:
        assert torch.allclose(pooled[:, hidden:], outputs[:, 0, hidden:])


def test_mean_and_max_pooling_ignore_padded_steps():
    outputs = torch.tensor([[[1.0], [3.0], [0.0]], [[-2.0], [0.0], [0.0]]])
    lengths = torch.tensor([2, 1])
    h_n = torch.zeros(1, 2, 1)
    assert make_classifier(pooling="mean").pool(outputs, h_n, lengths).tolist() == [[2.0], [-2.0]]
    assert make_classifier(pooling="max").pool(outputs, h_n, lengths).tolist() == [[3.0], [-2.0]]


def test_logits_shape_and_unknown_pooling():
    model = make_classifier()
    logits = model(torch.tensor([[2, 3], [4, 0]]), torch.tensor([2, 1]))
    assert logits.shape == (2, 2)
    with pytest.raises(InstantiationException, match="pooling must be one of"):
        make_classifier(pooling="attention")


def test_predict_texts_returns_a_label_and_probability_per_text():
    frame = make_classifier().predict_texts(["good food", "bad", "unheard-of words"])
    assert list(frame.columns) == ["label", "probability"]
    assert len(frame) == 3
    assert set(frame["label"]) <= {"negative", "positive"}
    assert ((frame["probability"] >= 0.5) & (frame["probability"] <= 1.0)).all()


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_predict_texts_refuses_empty_text(bad):
    with pytest.raises(ValueError, match="text 1: expected a non-empty review"):
        make_classifier().predict_texts(["fine", bad])
