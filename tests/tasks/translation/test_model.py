"""The Translator: its decoding paths agree, padding changes nothing, forced outputs are exact."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from conftest import build_model
from hydra.errors import InstantiationException

from rnnpipe.data.tokenization import EOS
from rnnpipe.tasks.translation.corpus import fit_tokenizer
from rnnpipe.tasks.translation.model import Translator

ENGLISH = ["a man runs .", "two dogs play in the snow .", "a girl sits ."]
GERMAN = ["ja nein"]


def make_translator(*overrides: str, **hparams) -> Translator:
    source, target = fit_tokenizer(ENGLISH), fit_tokenizer(GERMAN)
    settings = {
        "source_vocab_size": source.get_vocab_size(),
        "target_vocab_size": target.get_vocab_size(),
        "pad_id": 0,
        "bos_id": 2,
        "eos_id": 3,
        "embedding_dim": 8,
        "hidden_size": 12,
        "attention_size": 10,
        "dropout": 0.0,
        "preprocessing": {"tokenizers": {"source": source.to_str(), "target": target.to_str()}},
    }
    torch.manual_seed(0)
    return build_model("translation", *overrides, **(settings | hparams)).eval()


def batch_of(model: Translator, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    encodings = [model.tokenizer("source").encode(text).ids for text in texts]
    lengths = torch.tensor([len(ids) for ids in encodings])
    source = torch.zeros(len(texts), int(lengths.max()), dtype=torch.long)
    for row, ids in enumerate(encodings):
        source[row, : len(ids)] = torch.tensor(ids)
    return source, lengths


@pytest.mark.parametrize(
    ("attention", "cell"),
    [("additive", "vanilla"), ("multiplicative", "vanilla"), ("none", "vanilla"),
     ("multiplicative", "lstm"), ("none", "gru")],
)  # fmt: skip
def test_teacher_forcing_in_one_call_equals_stepping(attention, cell):
    model = make_translator(f"model.cell={cell}", attention=attention, num_layers=2)
    source, source_lengths = batch_of(model, ENGLISH[:2])
    target_in = torch.tensor([[2, 4, 5, 4], [2, 5, 0, 0]])
    target_lengths = torch.tensor([4, 2])
    attentional, weights = model(source, source_lengths, target_in, target_lengths)
    stepped = model.forward_sampled(source, source_lengths, target_in, ratio=1.0)
    real = target_in != 0
    torch.testing.assert_close(attentional[real], stepped[real])
    if attention == "none":
        assert weights is None
    else:
        assert weights.shape == (2, 4, source.shape[1])
        assert (weights[1, :, source_lengths[1] :] == 0).all()  # padded source words get none


def test_without_teacher_forcing_the_decoder_reads_its_own_greedy_output():
    model = make_translator(attention="additive", max_decode_length=6)
    source, source_lengths = batch_of(model, ENGLISH)
    greedy = model.best_translations(source, source_lengths, beam_size=1, n_best=1)
    target_in = torch.full((3, 6), model.hparams.bos_id)
    attentional = model.forward_sampled(source, source_lengths, target_in, ratio=0.0)
    own_guesses = model.output(attentional).argmax(-1).tolist()
    eos = model.hparams.eos_id
    assert [g[: g.index(eos)] if eos in g else g for g in own_guesses] == greedy


@pytest.mark.parametrize(("beam_size", "cell"), [(1, "vanilla"), (3, "vanilla"), (3, "lstm")])
def test_a_sentence_translates_the_same_alone_or_padded_in_a_batch(beam_size, cell):
    model = make_translator(
        f"model.cell={cell}", attention="multiplicative", num_layers=2, max_decode_length=7
    )
    source, lengths = batch_of(model, ENGLISH)
    together = model.translate(source, lengths, beam_size=beam_size, n_best=beam_size)
    alone = [model.translate(*batch_of(model, [text]), beam_size, beam_size)[0] for text in ENGLISH]
    assert [[h.tokens for h in found] for found in together] == [
        [h.tokens for h in found] for found in alone
    ]
    for found_together, found_alone in zip(together, alone, strict=True):
        assert [h.log_probability for h in found_together] == pytest.approx(
            [h.log_probability for h in found_alone], abs=1e-5
        )


@pytest.mark.parametrize("cell", ["vanilla", "lstm"])
def test_the_one_step_fast_path_decodes_the_tokens_of_the_general_path(cell, monkeypatch):
    model = make_translator(f"model.cell={cell}", num_layers=2, max_decode_length=7)
    source, lengths = batch_of(model, ENGLISH)
    fast = {beam: model.translate(source, lengths, beam, beam) for beam in (1, 3)}
    decoder = model.decoder.forward

    def through_packing(x, h0=None, lengths=None):  # lengths given: the general path
        return decoder(x, h0, lengths=torch.full((x.shape[0],), x.shape[1]))

    monkeypatch.setattr(model.decoder, "forward", through_packing)
    for beam, found in fast.items():
        general = model.translate(source, lengths, beam, beam)
        assert [[h.tokens for h in f] for f in found] == [[h.tokens for h in g] for g in general]
        for found_fast, found_general in zip(found, general, strict=True):
            assert [h.score for h in found_fast] == pytest.approx(
                [h.score for h in found_general], abs=1e-5
            )


def force_output_distribution(model: Translator, probabilities: dict[str, float]) -> None:
    """Make every step's P(y_t) the given distribution (the rest shared by the other tokens)."""
    target = model.tokenizer("target")
    vocab = target.get_vocab_size()
    rest = (1.0 - sum(probabilities.values())) / (vocab - len(probabilities))
    log_p = torch.full((vocab,), math.log(rest))
    for token, probability in probabilities.items():
        log_p[target.token_to_id(token)] = math.log(probability)
    with torch.no_grad():
        model.output.weight.zero_()
        model.output.bias.copy_(log_p)


def test_decoding_a_forced_distribution_gives_the_exact_expected_output():
    # P("ja") = 0.5, P(</s>) = 0.4 at every step, whatever the source
    model = make_translator(max_decode_length=4, beam_size=2, length_penalty=1.0)
    force_output_distribution(model, {"▁ja": 0.5, EOS: 0.4})
    texts = ["a man runs .", "two dogs play in the snow ."]
    # greedy: "ja" at every step, never </s>, until max_decode_length
    source, lengths = batch_of(model, texts)
    greedy = model.tokenizer("target").decode_batch(
        model.best_translations(source, lengths, beam_size=1)
    )
    assert greedy == ["ja ja ja ja"] * 2
    # beam 2: "</s>" (mean log P log 0.4 = -0.92) and "ja </s>" (-0.81) finish first; the
    # second ranks best
    assert model.predict_texts(texts)["translation"].tolist() == ["ja", "ja"]
    # without length normalisation the empty translation (P 0.4 > 0.5 * 0.4) wins
    model.hparams.length_penalty = 0.0
    assert model.predict_texts(texts)["translation"].tolist() == ["", ""]


def test_tied_weights_share_the_target_embedding():
    model = make_translator(tie_weights=True, embedding_dim=8, hidden_size=12)
    assert model.output.weight is model.target_embedding.weight
    assert model.combine.out_features == 8
    untied = make_translator(tie_weights=False)
    assert untied.output.weight is not untied.target_embedding.weight
    assert untied.combine.out_features == 12


def test_the_classic_seq2seq_has_no_attention_parameters():
    model = make_translator(attention="none")
    assert model.attention is None
    assert model.combine.in_features == 12  # s_t alone
    assert make_translator(attention="additive").combine.in_features == 12 + 2 * 12


def test_bad_inputs_and_settings_are_named():
    model = make_translator()
    with pytest.raises(ValueError, match=r"row 1 \(text\): expected a non-empty English sentence"):
        model.predict_texts(["a man runs .", "  "])
    with pytest.raises(ValueError, match=r"expected a 'text' column"):
        model.predict_frame(pd.DataFrame({"sentence": ["a man"]}))
    with pytest.raises(InstantiationException, match=r"teacher_forcing_ratio must be in \[0, 1\]"):
        make_translator(teacher_forcing_ratio=1.5)


def test_a_greedy_translation_scores_its_teacher_forced_log_probability():
    model = make_translator(attention="additive", max_decode_length=6)
    source, lengths = batch_of(model, ENGLISH)
    found = model.translate(source, lengths, beam_size=1, n_best=1)
    eos, limit = model.hparams.eos_id, model.hparams.max_decode_length
    for row, [hypothesis] in enumerate(found):
        # what greedy emitted: its tokens, and </s> unless it was cut at max_decode_length
        emitted = hypothesis.tokens + ([eos] if len(hypothesis.tokens) < limit else [])
        target_in = torch.tensor([[model.hparams.bos_id, *emitted[:-1]]])
        attentional, _ = model(
            source[row : row + 1, : lengths[row]], lengths[row : row + 1], target_in,
            torch.tensor([len(emitted)]),
        )  # fmt: skip
        step_log_probs = model.output(attentional[0]).log_softmax(-1)
        recomputed = step_log_probs[torch.arange(len(emitted)), torch.tensor(emitted)].sum()
        assert hypothesis.log_probability == pytest.approx(recomputed.item(), abs=1e-4)
        assert hypothesis.score == pytest.approx(recomputed.item() / len(emitted), abs=1e-4)
    served = model.predict_frame(pd.DataFrame({"text": ENGLISH}), beam_size=1)
    assert served["log_probability"].tolist() == pytest.approx(
        [h.log_probability for [h] in found], abs=1e-5
    )


def test_n_best_translations_come_sorted_by_score_for_one_call_only():
    model = make_translator(max_decode_length=5, beam_size=2)
    frame = pd.DataFrame({"text": ENGLISH[:2]})
    default = model.predict_frame(frame)
    assert list(default.columns) == ["translation", "log_probability", "score"]

    three = model.predict_frame(frame, beam_size=3, n_best=3)
    assert list(three.columns) == [
        "translation", "log_probability", "score", "translations", "log_probabilities", "scores",
    ]  # fmt: skip
    for _, row in three.iterrows():
        assert len(row["translations"]) == len(row["log_probabilities"]) == 3
        assert row["scores"] == sorted(row["scores"], reverse=True)
        assert row["translations"][0] == row["translation"]
        assert row["scores"][0] == row["score"]
        assert all(
            lp <= score <= 0
            for lp, score in zip(row["log_probabilities"], row["scores"], strict=True)
        )
    # the next call is the model's own beam of 2 again: the params changed nothing for it
    assert model.hparams.beam_size == 2 and model.hparams.n_best == 1
    pd.testing.assert_frame_equal(model.predict_frame(frame), default)


def test_n_best_over_the_beam_and_unknown_params_are_refused():
    model = make_translator(beam_size=3)
    frame = pd.DataFrame({"text": ENGLISH[:1]})
    with pytest.raises(ValueError, match=r"n_best must be in \[1, beam_size=3\], got 4"):
        model.predict_frame(frame, n_best=4)
    with pytest.raises(ValueError, match=r"n_best must be in \[1, beam_size=1\], got 2"):
        model.predict_frame(frame, beam_size=1, n_best=2)
    with pytest.raises(ValueError, match=r"params: expected only the params this model decl"):
        model.predict_frame(frame, temperature=0.5)
    assert model.serving_params() == {
        "beam_size": 3, "n_best": 1, "length_penalty": 1.0, "max_length": 80,
    }  # fmt: skip


def test_the_loss_in_chunks_of_tokens_equals_the_loss_over_all_at_once(monkeypatch):
    model = make_translator(label_smoothing=0.1)
    attentional = torch.randn(3, 4, model.output.in_features, requires_grad=True)  # o_t, 4 steps
    target_out = torch.tensor([[4, 5, 3, 0], [5, 3, 0, 0], [4, 4, 5, 3]])
    real = target_out != 0
    logits = model.output(attentional[real])
    whole = torch.nn.functional.cross_entropy(logits, target_out[real], label_smoothing=0.1)
    (whole_gradient,) = torch.autograd.grad(whole, attentional)
    monkeypatch.setattr("rnnpipe.tasks.translation.model.LOSS_CHUNK", 4)  # 9 tokens: 4 + 4 + 1
    chunked, tokens = model.token_loss(attentional, target_out, label_smoothing=0.1)
    (chunked_gradient,) = torch.autograd.grad(chunked, attentional)
    assert tokens == 9
    torch.testing.assert_close(chunked, whole)
    torch.testing.assert_close(chunked_gradient, whole_gradient)


def test_an_evaluated_batch_holds_what_the_searches_translate_from_scratch():
    model = make_translator(max_decode_length=6, beam_size=2)
    source, lengths = batch_of(model, ENGLISH)
    target_in = torch.tensor([[2, 4, 5], [2, 5, 0], [2, 4, 4]])
    batch = {
        "source": source, "source_lengths": lengths, "target_in": target_in,
        "target_lengths": torch.tensor([3, 2, 3]), "target_out": torch.tensor(
            [[4, 5, 3], [5, 3, 0], [4, 4, 3]]),
        "lines": [1, 2, 3], "source_texts": ENGLISH, "target_texts": ["ja", "nein", "ja ja"],
    }  # fmt: skip
    model.evaluate_batch(batch, "test")  # from one encoding: teacher forcing, greedy and beam
    decode = model.tokenizer("target").decode_batch
    records = model.translations["test"]
    assert [r["greedy"] for r in records] == decode(
        model.best_translations(source, lengths, beam_size=1, n_best=1)
    )
    assert [r["translation"] for r in records] == decode(
        model.best_translations(source, lengths, n_best=1)
    )


def test_the_reference_statistics_are_kept_for_the_same_references_only():
    from sacrebleu.metrics import BLEU, CHRF

    model = make_translator()
    hypotheses = ["ein mann läuft .", "zwei hunde spielen ."]
    for references in (["ein mann rennt .", "zwei hunde spielen im schnee ."],
                       ["ein mann läuft schnell .", "hunde spielen ."]):  # fmt: skip
        scorers = model.scorers_for("val", references)
        assert scorers is model.scorers_for("val", list(references))  # kept for the same ones
        for name, fresh in {"bleu": BLEU(), "chrf": CHRF()}.items():
            assert scorers[name].corpus_score(hypotheses, None).score == pytest.approx(
                fresh.corpus_score(hypotheses, [references]).score
            )


def test_cased_output_is_scored_cased_with_lowercased_bleu_beside_it():
    from sacrebleu.metrics import BLEU

    references = ["Ein Mann rennt im Park .", "Zwei Hunde spielen im Schnee ."]
    hypotheses = ["ein mann rennt im park .", "Zwei Hunde spielen im Schnee ."]  # case wrong
    cased = make_translator(
        preprocessing={
            "tokenizers": {
                "source": fit_tokenizer(ENGLISH).to_str(),
                "target": fit_tokenizer(references, lowercase=False).to_str(),
            }
        }
    )
    scorers = cased.scorers_for("test", references)
    scores = {name: scorer.corpus_score(hypotheses, None).score for name, scorer in scorers.items()}
    assert scores["bleu"] == pytest.approx(BLEU().corpus_score(hypotheses, [references]).score)
    assert scores["bleu_lc"] == pytest.approx(100.0)  # right but for case
    assert scores["bleu"] < 70.0
    assert str(scorers["bleu"].get_signature()).startswith("nrefs:1|case:mixed|")
    # a lowercasing tokenizer's output has no case: its BLEU is the lowercased one already
    assert "bleu_lc" not in make_translator().scorers_for("test", references)
