"""``model.init_from``: exactly the matching tensors move, embeddings by token."""

from __future__ import annotations

import json

import torch
from conftest import build_model, built_on_sample, compose_in, write_checkpoint
from hydra.core.hydra_config import HydraConfig

from rnnpipe.data.tokenization import SEQUENCE_SPECIAL_TOKENS, fit_word_tokenizer
from rnnpipe.tasks.translation.corpus import fit_tokenizer
from rnnpipe.training.init_from import init_from

SIZES = ("model.embedding_dim=4", "model.hidden_size=6", "model.num_layers=1")


def tokenizer_state(text: str, name: str = "tokenizer") -> dict:
    tokenizer = fit_word_tokenizer([text], special_tokens=SEQUENCE_SPECIAL_TOKENS)
    return {"tokenizers": {name: tokenizer.to_str()}, "labels": ["negative", "positive"]}


def vocab_size(preprocessing: dict, name: str = "tokenizer") -> int:
    return len(json.loads(preprocessing["tokenizers"][name])["model"]["vocab"])


def language_model(text: str):
    """A word-level generator (the pretrained language model) over the words of ``text``."""
    preprocessing = tokenizer_state(text)
    return build_model(
        "generation",
        *SIZES,
        vocab_size=vocab_size(preprocessing),
        labels=["negative", "positive"],
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        level="word",
        length_buckets=None,
        length_bucket_counts=None,
        preprocessing=preprocessing,
    )


def snapshot(model) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.named_parameters()}


def test_init_from_copies_exactly_the_matching_tensors_and_the_embedding_by_token():
    source = language_model("the soup was cold and the waiter rude")
    preprocessing = tokenizer_state("the pasta was superb , the waiter kind")
    target = build_model(
        "sentiment",
        *SIZES,
        "model.bidirectional=false",
        vocab_size=vocab_size(preprocessing),
        labels=["negative", "positive"],
        pad_id=0,
        preprocessing=preprocessing,
    )
    before = snapshot(target)
    transfer = init_from(target, source, "lm.ckpt", {})

    # the LM's RNN reads [token; label] (4 + 16 wide), the classifier's the token alone: the
    # input-to-hidden matrix takes the token's 4 columns
    assert transfer.copied == ["rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"]
    assert transfer.by_column == {"rnn.weight_ih_l0": {"copied": 4, "columns": 4}}
    assert set(transfer.skipped_for_shape) == {"head.weight", "head.bias"}
    assert transfer.missing == []
    assert transfer.unused == [
        "label_embedding.weight",
        "initial_state.weight",
        "initial_state.bias",
    ]
    after, source_values = snapshot(target), snapshot(source)
    for name in transfer.copied:
        assert torch.equal(after[name], source_values[name])
    assert torch.equal(after["rnn.weight_ih_l0"], source_values["rnn.weight_ih_l0"][:, :4])
    for name in set(after) - {*transfer.copied, "embedding.weight", "rnn.weight_ih_l0"}:
        assert torch.equal(after[name], before[name]), name

    target_vocab = target.tokenizer().get_vocab()
    source_vocab = source.tokenizer().get_vocab()
    shared = set(target_vocab) & set(source_vocab)
    assert len(shared) == 7  # <pad> <unk> <s> </s> the was waiter
    assert transfer.by_token == {"embedding.weight": {"copied": 7, "rows": len(target_vocab)}}
    for token, row in target_vocab.items():
        if token in shared:
            expected = source_values["embedding.weight"][source_vocab[token]]
        else:
            expected = before["embedding.weight"][row]
        assert torch.equal(after["embedding.weight"][row], expected), token


def test_init_from_maps_name_prefixes_onto_the_translation_encoder():
    source = language_model("a dog runs in the snow")
    # the translator's own tokens mark each word's start ("▁snow"); the LM's are plain words
    translator_tokens = {side: fit_tokenizer([text]).to_str()
                         for side, text in (("source", "Two dogs run in the snow"),
                                            ("target", "Zwei Hunde"))}  # fmt: skip
    preprocessing = {"tokenizers": translator_tokens, "labels": ["negative", "positive"]}
    target = build_model(
        "translation",
        *SIZES,
        source_vocab_size=vocab_size(preprocessing, "source"),
        target_vocab_size=vocab_size(preprocessing, "target"),
        pad_id=0,
        bos_id=2,
        eos_id=3,
        preprocessing=preprocessing,
    )
    before = snapshot(target)
    prefixes = {"embedding": "source_embedding", "rnn": "encoder"}
    transfer = init_from(target, source, "lm.ckpt", prefixes)

    assert transfer.copied == ["encoder.weight_hh_l0", "encoder.bias_ih_l0", "encoder.bias_hh_l0"]
    assert transfer.by_column == {"encoder.weight_ih_l0": {"copied": 4, "columns": 4}}
    # <pad> <unk> <s> </s> in the snow, word by word
    assert transfer.by_token == {"source_embedding.weight": {"copied": 7, "rows": 10}}
    assert "encoder.weight_hh_l0_reverse" in transfer.missing  # the LM reads one way
    assert "target_embedding.weight" in transfer.missing
    after = snapshot(target)
    assert torch.equal(after["encoder.weight_hh_l0"], source.rnn.weight_hh_l0)
    lm_row = source.tokenizer().token_to_id("snow")
    translator_row = target.tokenizer("source").token_to_id("▁snow")
    assert torch.equal(
        after["source_embedding.weight"][translator_row], source.embedding.weight[lm_row]
    )
    reverse = "encoder.weight_hh_l0_reverse"
    assert torch.equal(after[reverse], before[reverse])


def test_init_from_gives_a_tagger_the_word_columns_only_not_the_generators_label_columns():
    tagger = built_on_sample("ner", *SIZES)
    words = " ".join(tagger.tokenizer("words").get_vocab())
    source = language_model(words)  # reads [word (4); label (16)]
    before = snapshot(tagger)  # reads [word (4); casing (8); characters (50)]
    transfer = init_from(tagger, source, "lm.ckpt", {})

    columns = before["rnn.weight_ih_l0"].shape[1]
    assert columns > 20
    assert transfer.by_column == {"rnn.weight_ih_l0": {"copied": 4, "columns": columns}}
    after = snapshot(tagger)
    assert torch.equal(after["rnn.weight_ih_l0"][:, :4], source.rnn.weight_ih_l0[:, :4])
    assert torch.equal(after["rnn.weight_ih_l0"][:, 4:], before["rnn.weight_ih_l0"][:, 4:])


def test_init_from_a_null_prefix_keeps_those_tensors_out():
    source = language_model("the soup")
    target = language_model("the soup")
    transfer = init_from(target, source, "lm.ckpt", {"head": None, "rnn": "rnn"})
    assert "head.weight" in transfer.unused and "head.weight" in transfer.missing
    assert "rnn.weight_ih_l0" in transfer.copied
    rows = transfer.by_token["embedding.weight"]
    assert rows["copied"] == rows["rows"]  # the same vocabulary: every row


def test_rnnpipe_train_starts_from_a_checkpoint_and_says_what_it_copied(tmp_path, capsys):
    from rnnpipe.cli import train

    sizes = ["model.hidden_size=8", "model.embedding_dim=8"]
    source = write_checkpoint(built_on_sample("sentiment", *sizes), tmp_path / "source.ckpt")
    cfg = compose_in(
        tmp_path, "logger=csv", "test=false", "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1", f"model.init_from={source}", *sizes,
    )  # fmt: skip
    train.train(cfg)
    HydraConfig.instance().cfg = None

    printed = capsys.readouterr().out
    assert (
        f"model.init_from={source}: 6 copied, 1 by token, 0 by column, 0 skipped for shape, "
        "0 missing, 0 unused"
    ) in printed
    assert "copied by token   embedding.weight: 583 of 583 rows (100.0%)" in printed
