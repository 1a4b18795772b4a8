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
    assert list(frame.columns) == [
        "label", "probability", "probability_negative", "probability_positive",
    ]  # fmt: skip
    assert len(frame) == 3
    assert set(frame["label"]) <= {"negative", "positive"}
    assert ((frame["probability"] >= 0.5) & (frame["probability"] <= 1.0)).all()


def test_every_class_gets_its_softmax_probability():
    model = make_classifier(labels=["negative", "neutral", "positive"])
    frame = model.predict_texts(["good food", "bad food food"])
    columns = ["probability_negative", "probability_neutral", "probability_positive"]
    good, bad = (model.tokenizer().encode(text).ids for text in ("good food", "bad food food"))
    assert len(good) == 2 and len(bad) == 3
    with torch.no_grad():
        tokens = torch.tensor([[*good, 0], bad])  # padded with <pad> (id 0)
        expected = model(tokens, torch.tensor([2, 3])).softmax(-1)
    assert frame[columns].to_numpy() == pytest.approx(expected.numpy(), abs=1e-6)
    assert frame[columns].sum(axis=1).tolist() == pytest.approx([1.0, 1.0])
    # the chosen label is the most probable class, and "probability" is its probability
    best = expected.argmax(-1).tolist()
    assert frame["label"].tolist() == [model.hparams.labels[i] for i in best]
    assert frame["probability"].tolist() == pytest.approx(expected.max(-1).values.tolist())


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_predict_texts_refuses_empty_text(bad):
    with pytest.raises(ValueError, match=r"row 1 \(text\): expected a non-empty review"):
        make_classifier().predict_texts(["fine", bad])
