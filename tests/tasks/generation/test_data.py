"""The generator's data: character tokenizer, conditioned examples, the stream and its rows."""

from __future__ import annotations

import io

import pytest
import torch
from conftest import SAMPLE_DATA, build_datamodule
from hydra.errors import InstantiationException

from rnnpipe.data.tokenization import BOS, EOS, PAD, UNK
from rnnpipe.data.tokenization import fit_character_tokenizer as fit_char_tokenizer
from rnnpipe.tasks.generation.data import (
    GenerationDataModule,
    LanguageModelRow,
    concatenate,
    length_bucket,
    stream_rows,
)

ROWS = [
    ("Great food!", 1),
    ("Cold soup.", 0),
    ("The waiter was friendly and quick.", 1),
    ("Awful.", 0),
    ("Loved it.", 1),
    ("Never again, the fries were soggy.", 0),
]
BUCKETS = {"short": 10, "medium": 20, "long": None}


def make_datamodule(path, **overrides) -> GenerationDataModule:
    arguments = dict(path=str(path), val_fraction=0.0, test_fraction=0.0, batch_size=2, seed=3)
    datamodule = build_datamodule("generation", **(arguments | overrides))
    datamodule.setup("fit")
    return datamodule


def test_char_tokenizer_round_trips_text_and_maps_unseen_characters_to_unk():
    tokenizer = fit_char_tokenizer(["Crème brûlée, s'il vous plaît!"])
    assert [tokenizer.token_to_id(t) for t in (PAD, UNK, BOS, EOS)] == [0, 1, 2, 3]
    encoding = tokenizer.encode("Crème  plaît!")
    assert encoding.tokens == list("Crème  plaît!")
    assert tokenizer.decode(encoding.ids) == "Crème  plaît!"
    assert tokenizer.encode("Cz").tokens == ["C", UNK]
    lowercased = fit_char_tokenizer(["ABC"], lowercase=True)
    assert lowercased.encode("Ab").tokens == ["a", "b"]


def test_each_review_is_start_then_text_in_and_text_then_end_out(write_reviews):
    datamodule = make_datamodule(write_reviews(ROWS))
    tokenizer = datamodule.preprocessing.tokenizer("tokenizer")
    [example] = datamodule.examples(datamodule.read_splits()["train"][:1])
    text = datamodule.read_splits()["train"][0].text
    ids = tokenizer.encode(text).ids
    assert example.inputs == [tokenizer.token_to_id(BOS), *ids]
    assert example.targets == [*ids, tokenizer.token_to_id(EOS)]
    assert example.labels == [datamodule.read_splits()["train"][0].label] * (len(text) + 1)
    assert tokenizer.decode(example.targets) == text


def test_word_level_tokens_are_words(write_reviews):
    datamodule = make_datamodule(write_reviews(ROWS), level="word", lowercase=True)
    [example] = datamodule.examples(
        [r for r in datamodule.read_splits()["train"] if r.text == "Awful."]
    )
    tokens = [
        datamodule.preprocessing.tokenizer("tokenizer").id_to_token(i) for i in example.targets
    ]
    assert tokens == ["awful", ".", EOS]


def test_stream_rows_hold_the_whole_stream_and_each_starts_a_review():
    lengths = [3, 4, 2, 6, 9, 1, 5]
    examples = [LanguageModelRow([2] * n, [n] * n, [n % 2] * n, [0] * n) for n in lengths]
    rows = stream_rows(examples, 6)
    assert concatenate(rows) == concatenate(examples)  # no gap, no overlap, in order
    # cut only between reviews, at most 6 steps a row; the 9-step review is a row of its own
    assert [row.targets for row in rows] == [
        [3, 3, 3],
        [4, 4, 4, 4, 2, 2],
        [6] * 6,
        [9] * 9,
        [1, 5, 5, 5, 5, 5],
    ]
    with pytest.raises(ValueError, match="stream_length must be a positive integer"):
        stream_rows(examples, 0)


def test_stream_layout_batches_are_the_shuffled_train_stream(write_reviews):
    path = write_reviews(ROWS)
    datamodule = make_datamodule(path, layout="stream", stream_length=40)
    stream = concatenate(datamodule.splits["train"])
    # cut after every </s> target: the pieces are the train reviews' examples, each once
    eos = datamodule.preprocessing.tokenizer("tokenizer").token_to_id(EOS)
    ends = [step + 1 for step, target in enumerate(stream.targets) if target == eos]
    pieces = [stream[start:end] for start, end in zip([0, *ends], ends, strict=False)]
    assert ends[-1] == len(stream)
    by_review = datamodule.examples(datamodule.read_splits()["train"])
    assert sorted(pieces, key=lambda e: e.targets) == sorted(by_review, key=lambda e: e.targets)
    assert pieces != by_review  # in a shuffled order ...
    assert concatenate(
        make_datamodule(path, layout="stream", stream_length=40).splits["train"]
    ) == (stream)  # ... that the seed fixes

    bos = datamodule.preprocessing.tokenizer("tokenizer").token_to_id(BOS)
    assert all(row.inputs[0] == bos and len(row) <= 40 for row in datamodule.splits["train"])

    batch = next(iter(datamodule.train_dataloader()))
    assert batch["tokens"].shape == batch["targets"].shape == batch["labels"].shape
    assert batch["tokens"].shape[0] == 2
    assert "buckets" not in batch
    # the next input is this step's target, except that a review's </s> is followed by <s>
    next_inputs, targets = batch["tokens"][:, 1:], batch["targets"][:, :-1]
    expected = targets.where(targets != eos, torch.tensor(bos))
    running = batch["targets"][:, 1:] != datamodule.preprocessing.tokenizer(
        "tokenizer"
    ).token_to_id(PAD)
    assert torch.equal(next_inputs[running], expected[running])


def test_the_training_order_can_be_replayed_for_an_exact_resume(write_reviews):
    path = write_reviews(ROWS)
    datamodule = make_datamodule(path, layout="reviews")
    datamodule.train_sampler.set_epoch(1)
    epoch_1 = [batch["tokens"] for batch in datamodule.train_dataloader()]
    assert len(epoch_1) == 3
    torch.manual_seed(99)  # the global random state plays no part

    resumed = make_datamodule(path, layout="reviews")
    resumed.train_sampler.resume(epoch=1, batches_done=1)  # one batch of two reviews done
    rest = [batch["tokens"] for batch in resumed.train_dataloader()]
    assert len(rest) == 2
    assert all(torch.equal(a, b) for a, b in zip(rest, epoch_1[1:], strict=True))


def test_reviews_layout_pads_one_review_per_row(write_reviews):
    datamodule = make_datamodule(write_reviews(ROWS), layout="reviews", length_buckets=BUCKETS)
    pad = datamodule.preprocessing.tokenizer("tokenizer").token_to_id(PAD)
    reviews = datamodule.read_splits()["train"][:2]
    batch = datamodule.collate(datamodule.examples(reviews))
    assert batch["lengths"].tolist() == [len(r.text) + 1 for r in reviews]
    shorter = int(batch["lengths"].argmin())
    assert (batch["targets"][shorter, batch["lengths"][shorter] :] == pad).all()
    assert batch["buckets"][:, 0].tolist() == [length_bucket(r.text, BUCKETS) for r in reviews]


def test_length_buckets_and_their_train_counts(write_reviews):
    assert [length_bucket(text, BUCKETS) for text in ("a" * 9, "a" * 10, "a" * 19, "a" * 20)] == [
        0,
        1,
        1,
        2,
    ]
    datamodule = make_datamodule(write_reviews(ROWS), length_buckets=BUCKETS)
    # negative: "Cold soup." (10) "Awful." (6) "Never again, ..." (34); positive: 11, 34, 9
    assert datamodule.preprocessing["length_bucket_counts"] == [[1, 1, 1], [1, 1, 1]]
    kwargs = datamodule.model_kwargs()
    assert kwargs["length_buckets"] == ["short", "medium", "long"]
    assert kwargs["length_bucket_counts"] == [[1, 1, 1], [1, 1, 1]]
    assert kwargs["labels"] == ["negative", "positive"]
    assert (kwargs["pad_id"], kwargs["unk_id"], kwargs["bos_id"], kwargs["eos_id"]) == (0, 1, 2, 3)


@pytest.mark.parametrize(
    "buckets",
    [{"short": 40}, {"short": 40, "long": 20, "rest": None}, {"short": 0, "rest": None}, {}],
)
def test_bad_length_buckets_are_refused(buckets):
    with pytest.raises(InstantiationException, match="length_buckets"):
        build_datamodule("generation", path="x.tsv", length_buckets=buckets)


@pytest.mark.parametrize(("name", "value"), [("level", "byte"), ("layout", "grid")])
def test_unknown_level_or_layout_is_refused(name, value):
    with pytest.raises(InstantiationException, match=f"{name} must be one of"):
        build_datamodule("generation", path="x.tsv", **{name: value})


def test_fitted_state_survives_a_safe_load_and_scores_a_new_file(write_reviews):
    datamodule = build_datamodule(
        "generation", path=str(SAMPLE_DATA / "reviews_sample.tsv"), length_buckets=BUCKETS, seed=1
    )
    datamodule.setup("fit")
    buffer = io.BytesIO()
    torch.save(datamodule.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    new_file = write_reviews([("Tasty tacos.", 1), ("Stale bread.", 0)], name="new.tsv")
    restored = build_datamodule(
        "generation", path="does-not-exist.tsv", test_path=str(new_file), length_buckets=BUCKETS
    )
    restored.load_state_dict(state)
    restored.setup("test")
    tokenizer = restored.preprocessing.tokenizer("tokenizer")
    decoded = [tokenizer.decode(row.targets[:-1]) for row in restored.splits["test"]]
    assert decoded == ["Tasty tacos.", "Stale bread."]
    assert restored.model_kwargs() == datamodule.model_kwargs()
    batch = next(iter(restored.test_dataloader()))
    assert (
        datamodule.preprocessing.tokenizer("tokenizer").decode(batch["targets"][0].tolist())
        == "Tasty tacos."
    )
