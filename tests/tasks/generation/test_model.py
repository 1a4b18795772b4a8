"""The review generator: how the one input conditions the RNN, and generating from labels."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import build_model

from rnnpipe.data.tokenization import fit_character_tokenizer as fit_char_tokenizer
from rnnpipe.tasks.generation.model import ReviewGenerator

TEXTS = ["Great food!", "Cold soup, rude staff."]


def make_generator(**overrides) -> ReviewGenerator:
    torch.manual_seed(0)
    tokenizer = fit_char_tokenizer(TEXTS)
    arguments = dict(
        vocab_size=tokenizer.get_vocab_size(),
        labels=["negative", "positive"],
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        level="char",
        length_buckets=None,
        length_bucket_counts=None,
        embedding_dim=8,
        condition_dim=4,
        hidden_size=6,
        num_layers=2,
        dropout=0.0,
        sampling={"temperature": 1.0, "max_length": 40, "seed": 5},
        preprocessing={"tokenizers": {"tokenizer": tokenizer.to_str()}},
    )
    return build_model("generation", **(arguments | overrides)).eval()


def test_the_input_is_the_first_state_and_is_seen_at_every_step():
    model = make_generator()
    tokens = torch.tensor([[2, 5, 6, 7], [2, 8, 9, 4]])
    labels = torch.tensor([[1] * 4, [0] * 4])
    logits, h_n = model(tokens, labels)

    condition = model.label_embedding(labels)  # (B, T, C)
    h0 = torch.tanh(model.initial_state(condition[:, 0]))  # (B, L*H)
    h0 = h0.view(2, 2, 6).transpose(0, 1)  # (L, B, H): layer 0 first
    x = torch.cat([model.embedding(tokens), condition], dim=-1)
    output, expected_h = model.rnn(x, h0.contiguous())
    assert torch.allclose(logits, model.head(output), atol=1e-6)
    assert torch.allclose(h_n, expected_h, atol=1e-6)


def test_a_label_change_in_the_stream_changes_the_next_steps_only():
    model = make_generator()
    tokens = torch.tensor([[2, 5, 6, 7, 8, 9]])
    positive, switched = torch.ones(1, 6, dtype=torch.long), torch.tensor([[1, 1, 1, 0, 0, 0]])
    before, _ = model(tokens, positive)
    after, _ = model(tokens, switched)
    assert torch.equal(before[:, :3], after[:, :3])
    assert not torch.allclose(before[:, 3:], after[:, 3:])


def test_length_buckets_add_to_the_label():
    model = make_generator(length_buckets=["short", "long"], length_bucket_counts=[[1, 0], [0, 1]])
    labels, buckets = torch.tensor([[1, 1]]), torch.tensor([[0, 1]])
    expected = model.label_embedding(labels) + model.bucket_embedding(buckets)
    assert torch.equal(model.condition(labels, buckets), expected)


def test_predict_texts_writes_one_reproducible_review_per_label():
    model = make_generator()
    requests = ["positive", "negative", "positive"]
    frame = model.predict_texts(requests)
    assert list(frame.columns) == ["label", "review", "log_probability"]
    assert frame["label"].tolist() == requests
    assert all(isinstance(r, str) and len(r) <= 40 for r in frame["review"])
    assert frame.equals(model.predict_texts(requests))  # seeded
    assert frame["review"][0] != frame["review"][2]  # one random stream across the rows
    assert model.predict_frame(pd.DataFrame({"label": requests})).equals(frame)


def test_greedy_generation_uses_no_randomness_and_no_special_tokens():
    model = make_generator(sampling={"temperature": 0, "max_length": 30})
    frame = model.predict_texts(["positive", "positive"])
    assert frame["review"][0] == frame["review"][1]
    assert not {"<pad>", "<unk>", "<s>"} & set(frame["review"][0])
    assert frame["log_probability"].tolist() == [0.0, 0.0]  # greedy is certain of each choice


def review_log_probability(model: ReviewGenerator, label: int, review: str, temperature: float):
    """log P(review </s> | label) teacher-forced, under softmax(logits / temperature) with the
    tokens generation never chooses (<pad>, <unk>, <s>) cut."""
    ids = [*model.tokenizer().encode(review).ids, model.hparams.eos_id]
    tokens = torch.tensor([[model.hparams.bos_id, *ids[:-1]]])
    with torch.no_grad():
        logits, _ = model(tokens, torch.full_like(tokens, label))
    logits = logits[0].index_fill(1, torch.tensor([0, 1, 2]), float("-inf")) / temperature
    return logits.log_softmax(-1)[torch.arange(len(ids)), torch.tensor(ids)].sum().item()


def test_each_review_scores_its_log_probability_at_the_temperature_used():
    model = make_generator(sampling={"temperature": 1.0, "max_length": 200, "seed": 5})
    for temperature in (1.0, 0.6):
        # top_p 1.0: the whole distribution, no nucleus (the YAML's is 0.95)
        frame = model.predict_frame(
            pd.DataFrame({"label": ["negative", "positive"]}), temperature=temperature, top_p=1.0
        )
        for label, (review, log_probability) in enumerate(
            zip(frame["review"], frame["log_probability"], strict=True)
        ):
            expected = review_log_probability(model, label, review, temperature)
            assert log_probability == pytest.approx(expected, abs=1e-3)
            assert log_probability < 0


def test_sampling_params_apply_to_one_call_only():
    model = make_generator(
        sampling={"temperature": 1.0, "top_k": None, "top_p": 0.9, "max_length": 40, "seed": 5}
    )
    assert model.serving_params() == {
        "temperature": 1.0, "top_k": 0, "top_p": 0.9, "max_length": 40, "seed": 5,
    }  # fmt: skip
    requests = pd.DataFrame({"label": ["positive"] * 4})
    default = model.predict_frame(requests)
    short = model.predict_frame(requests, max_length=3, seed=9)
    assert all(len(review) <= 3 for review in short["review"])
    greedy = model.predict_frame(requests, temperature=0.0)
    assert greedy["review"].nunique() == 1
    # the next call samples with the model's own settings again
    assert model.sampling.max_length == 40 and model.sampling.seed == 5
    assert model.predict_frame(requests).equals(default)
    with pytest.raises(ValueError, match=r"params.top_p: expected a number in \[0.01, 1.0\]"):
        model.predict_frame(requests, top_p=0.0)


def test_a_length_bucket_is_taken_as_asked_or_drawn_from_the_labels_train_lengths():
    # every negative train review was short and every positive one long
    model = make_generator(length_buckets=["short", "long"], length_bucket_counts=[[4, 0], [0, 3]])
    frame = model.predict_texts(["negative", "positive", "positive:short", "negative:long"])
    assert list(frame.columns) == ["label", "length", "review", "log_probability"]
    assert frame["length"].tolist() == ["short", "long", "short", "long"]


@pytest.mark.parametrize(
    ("request_text", "buckets", "message"),
    [
        (
            "neutral",
            None,
            r"row 1 \(label\): expected one of \['negative', 'positive'\], got 'neutral'",
        ),
        ("positive:short", None, "got 'positive:short'"),
        ("positive:tiny", ["short", "long"], "length bucket of \\['short', 'long'\\]"),
        ("", None, "got ''"),
    ],
)
def test_unknown_labels_and_buckets_are_refused(request_text, buckets, message):
    counts = [[1, 1], [1, 1]] if buckets else None
    model = make_generator(length_buckets=buckets, length_bucket_counts=counts)
    with pytest.raises(ValueError, match=message):
        model.predict_texts(["positive", request_text])


def test_predict_frame_needs_a_label_column():
    with pytest.raises(ValueError, match="expected a 'label' column"):
        make_generator().predict_frame(pd.DataFrame({"text": ["positive"]}))
