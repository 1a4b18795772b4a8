"""The entity tagger: shapes, masking of padding, decoding constraints, serving inputs."""

from __future__ import annotations

import itertools
import re

import pandas as pd
import pytest
import torch
from conftest import build_model
from hydra.errors import InstantiationException

from rnnpipe.tasks.ner.conll import Sentence
from rnnpipe.tasks.ner.features import CASINGS, encode_sentences
from rnnpipe.tasks.ner.features import fit_character_vocabulary as fit_char_tokenizer
from rnnpipe.tasks.ner.features import fit_word_vocabulary as fit_conll_words
from rnnpipe.tasks.ner.model import EntityTagger, length_groups, scheme_constraints
from rnnpipe.tasks.ner.schemes import allowed_transition, read_chunks, scheme_labels
from rnnpipe.training.module import length_mask

TRAIN = [
    Sentence(("EU", "rejects", "German", "call"), ("S-ORG", "O", "S-MISC", "O"), (1, 2, 3, 4)),
    Sentence(("Peter", "Blackburn", "flew"), ("B-PER", "E-PER", "O"), (6, 7, 8)),
]
LABELS = scheme_labels({"ORG", "MISC", "PER", "LOC"}, "BIOES")


def make_tagger(**overrides) -> EntityTagger:
    words = fit_conll_words(TRAIN, min_frequency=1, lowercase=False)
    chars = fit_char_tokenizer(TRAIN)
    arguments = dict(
        vocab_size=words.get_vocab_size(),
        char_vocab_size=chars.get_vocab_size(),
        num_casings=len(CASINGS),
        labels=LABELS,
        tag_scheme="BIOES",
        pad_id=0,
        unk_id=1,
        char_pad_id=0,
        embedding_dim=6,
        casing_dim=3,
        char_embedding_dim=4,
        char_hidden_size=5,
        hidden_size=7,
        dropout=0.0,
        preprocessing={
            "tokenizers": {"words": words.to_str(), "chars": chars.to_str()},
            "max_word_length": 8,
        },
    )
    torch.manual_seed(0)
    return build_model("ner", **(arguments | overrides)).eval()


def batch_of(model: EntityTagger, sentences: list[list[str]]) -> dict[str, torch.Tensor]:
    return encode_sentences(
        sentences, model.tokenizer("words"), model.tokenizer("chars"), max_word_length=8
    )


@pytest.mark.parametrize(
    "overrides", [{}, {"char_hidden_size": 0}, {"casing_dim": 0, "num_layers": 2}]
)
def test_scores_for_real_tokens_do_not_depend_on_padding(overrides):
    model = make_tagger(**overrides)
    sentences = [["Peter", "Blackburn", "rejects", "EU"], ["EU", "flew"]]
    scores = model(batch_of(model, sentences))
    assert scores.shape == (2, 4, len(LABELS))
    alone = model(batch_of(model, sentences[1:]))
    assert torch.allclose(scores[1, :2], alone[0], atol=1e-6)


def test_char_features_are_each_words_final_states_and_zero_at_padding():
    """Words of 1 to 8 characters: the tagger reads them in length groups; each word's
    features are still its own final states, as if read alone."""
    model = make_tagger()
    sentences = [["EU", "Peter", "a", "Blackburn"], ["flew", "EU"], ["German", "rejects", "I"]]
    batch = batch_of(model, sentences)
    features = model.char_features(batch["chars"], batch["char_lengths"])
    assert features.shape == (3, 4, 2 * 5)
    for row, sentence in enumerate(sentences):
        assert (features[row, len(sentence) :] == 0).all()
        for position, word in enumerate(sentence):
            chars = batch["chars"][row, position, : min(len(word), 8)].unsqueeze(0)
            _, h_n = model.char_rnn(model.char_embedding(chars))
            alone = torch.cat([h_n[0, 0], h_n[1, 0]])
            torch.testing.assert_close(features[row, position], alone, atol=1e-6, rtol=0)


def test_length_groups_pad_each_word_at_most_twice_over():
    lengths = torch.tensor([16, 12, 9, 8, 5, 4, 3, 2, 1, 1])
    assert length_groups(lengths, 3) == [(0, 3), (3, 5), (5, 10)]
    assert length_groups(lengths, 1) == [(0, 10)]
    assert length_groups(torch.tensor([1, 1, 1]), 3) == [(0, 3)]


@pytest.mark.parametrize("crf", [True, False])
@torch.no_grad()
def test_loss_ignores_tags_at_padded_positions(crf):
    model = make_tagger(crf=crf)
    batch = batch_of(model, [["EU", "rejects", "German"], ["Peter"]])
    scores = model(batch)
    mask = length_mask(batch["lengths"], 3, scores.device)
    tags = torch.tensor([[LABELS.index("S-ORG"), 0, LABELS.index("S-MISC")], [0, 0, 0]])
    other_padding = tags.clone()
    other_padding[1, 1:] = LABELS.index("B-LOC")  # not even an allowed move
    loss = model.loss(scores, tags, mask)
    assert torch.isfinite(loss)
    assert float(model.loss(scores, other_padding, mask)) == pytest.approx(float(loss))


def decoded_moves_are_allowed(paths: list[list[str]]) -> bool:
    return all(
        allowed_transition(a, b, "BIOES")
        for path in paths
        for a, b in itertools.pairwise([None, *path, None])
    )


@pytest.mark.parametrize("crf", [True, False])
def test_decoding_never_breaks_the_scheme(crf):
    model = make_tagger(crf=crf, constrained_decoding=True)
    torch.manual_seed(1)
    scores = torch.randn(8, 6, len(LABELS)) * 5
    mask = length_mask(torch.tensor([6, 5, 4, 3, 2, 1, 6, 6]), 6, scores.device)
    paths = model.decode(scores, mask)
    assert [len(p) for p in paths] == [6, 5, 4, 3, 2, 1, 6, 6]
    assert decoded_moves_are_allowed(paths)
    # per-token argmax on the same scores does break it: the constraint is doing the work
    argmax = make_tagger(crf=False, constrained_decoding=False).decode(scores, mask)
    assert not decoded_moves_are_allowed(argmax)


def test_scheme_constraints_as_matrices():
    labels = ["O", "B-X", "I-X"]
    allowed, start, end = scheme_constraints(labels, "IOB2")
    assert allowed.tolist() == [[True, True, False], [True, True, True], [True, True, True]]
    assert start.tolist() == [True, True, False]
    assert end.tolist() == [True, True, True]


def test_pretrained_embeddings_are_copied_and_checked():
    vectors = torch.arange(11 * 6, dtype=torch.float).reshape(11, 6)
    model = make_tagger(vocab_size=11, pretrained_embeddings=vectors, freeze_embeddings=True)
    assert torch.equal(model.embedding.weight, vectors)
    assert not model.embedding.weight.requires_grad
    assert "pretrained_embeddings" not in model.hparams
    with pytest.raises(InstantiationException, match=r"set model.embedding_dim to the vectors'"):
        make_tagger(vocab_size=11, pretrained_embeddings=torch.zeros(11, 4))


def test_predict_frame_takes_text_or_tokens_and_returns_pairs_and_spans():
    model = make_tagger()
    frame = pd.DataFrame(
        {
            "text": ["Peter Blackburn's trip.", None],
            "tokens": [None, ["EU", "rejects", "U.S.", "lamb"]],
        }
    )
    answer = model.predict_frame(frame)
    assert list(answer.columns) == ["tagged", "entities", "tag_probabilities"]
    tokens = [[t for t, _ in row] for row in answer["tagged"]]
    assert tokens == [["Peter", "Blackburn", "'s", "trip", "."], ["EU", "rejects", "U.S.", "lamb"]]
    for row, entities in zip(answer["tagged"], answer["entities"], strict=True):
        tags = [tag for _, tag in row]
        assert set(tags) <= set(LABELS)
        chunks = read_chunks(tags)
        assert [(e["type"], e["start"], e["end"]) for e in entities] == [
            (c.type, c.start, c.end) for c in chunks
        ]
        assert [e["text"] for e in entities] == [
            " ".join(t for t, _ in row[c.start : c.end]) for c in chunks
        ]
    texts = model.predict_texts(["Peter Blackburn's trip."])
    assert texts["tagged"][0] == answer["tagged"][0]


@pytest.mark.parametrize("crf", [True, False])
def test_each_tag_comes_with_its_probability(crf):
    model = make_tagger(crf=crf)
    sentences = [["EU", "rejects", "German", "lamb"], ["Peter"]]
    answer = model.predict_frame(pd.DataFrame({"tokens": sentences}))
    batch = encode_sentences(sentences, model.tokenizer("words"), model.tokenizer("chars"), 8)
    with torch.no_grad():
        scores = model(batch)
        mask = length_mask(batch["lengths"], scores.shape[1], scores.device)
        # the CRF's marginals over all tag sequences, or each token's own softmax
        expected = model.crf.marginals(scores, mask) if crf else scores.softmax(-1)
    for row, (tagged, probabilities) in enumerate(
        zip(answer["tagged"], answer["tag_probabilities"], strict=True)
    ):
        assert len(probabilities) == len(sentences[row])
        chosen = [LABELS.index(tag) for _, tag in tagged]
        assert probabilities == pytest.approx(
            [expected[row, t, tag].item() for t, tag in enumerate(chosen)], abs=1e-6
        )
        assert all(0.0 < p <= 1.0 for p in probabilities)
    assert expected[mask].sum(-1).tolist() == pytest.approx([1.0] * 5, abs=1e-5)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"sentence": ["x"]}),
            "expected a 'text' column of raw sentences or a 'tokens'",
        ),
        (
            pd.DataFrame({"text": ["fine", "  "]}),
            "row 1 (text): expected a non-empty sentence, got '  '",
        ),
        (pd.DataFrame({"text": [None]}), "row 0 (text): expected a non-empty sentence, got null"),
        (
            pd.DataFrame({"tokens": [["EU"], []]}),
            "row 1 (tokens): expected a non-empty list of tokens",
        ),
        (
            pd.DataFrame({"tokens": [["New York"]]}),
            "row 0 (tokens): expected a non-empty list of tokens without spaces",
        ),
    ],
)
def test_bad_serving_inputs_are_refused(frame, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_tagger().predict_frame(frame)
