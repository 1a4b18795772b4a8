"""Pretrained word vectors for every word-level task: one reader, the embedding started from
them, their coverage of the vocabulary counted (logged as data/<key>_coverage)."""

from __future__ import annotations

import pytest
import torch
from conftest import composed
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from rnnpipe.data.tokenization import SEQUENCE_SPECIAL_TOKENS
from rnnpipe.training.init_from import module_config

WORDS = ["the", "a", "good", "food", "was", "man", "ein", "mann", "eine", "frau", "eu", "germany"]
VECTORS = {word: [float(i), i + 0.5, -float(i)] for i, word in enumerate(WORDS)}

TASKS = {  # experiment, overrides: the key of each vectors file -> (tokenizer, embedding)
    "sentiment": ((), {"embeddings_path": ("tokenizer", "embedding")}),
    "ner": ((), {"embeddings_path": ("words", "embedding")}),
    "generation": (("data.level=word",), {"embeddings_path": ("tokenizer", "embedding")}),
    "translation": ((), {"embeddings_path": ("source", "source_embedding"),
                         "target_embeddings_path": ("target", "target_embedding")}),
}  # fmt: skip


@pytest.mark.parametrize("task", list(TASKS))
def test_the_embedding_starts_from_the_vectors_and_their_coverage_is_counted(task, tmp_path):
    overrides, files = TASKS[task]
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in VECTORS.items()))
    keys = [f"data.{key}={path}" for key in files]
    cfg = composed(f"experiment={task}", *overrides, *keys, "model.embedding_dim=3")
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    model = instantiate(module_config(cfg.model), **datamodule.model_kwargs())
    metrics = datamodule.data_metrics()
    for key, (tokenizer, embedding) in files.items():
        vocabulary = datamodule.preprocessing.tokenizer(tokenizer).get_vocab()
        words = [w for w in vocabulary if w not in SEQUENCE_SPECIAL_TOKENS]
        # translation's word tokens carry a word-start marker: "▁man" is the word "man"
        found = {w: VECTORS.get(w.lstrip("▁"), VECTORS.get(w.lstrip("▁").lower())) for w in words}
        found = {w: vector for w, vector in found.items() if vector is not None}
        assert found, f"the {task} sample shares no word with the test vectors"
        weight = getattr(model, embedding).weight
        for word, vector in found.items():
            assert weight[vocabulary[word]].tolist() == vector
        name = key.removesuffix("_path")
        assert metrics[f"data/{name}_coverage"] == pytest.approx(len(found) / len(words))
        assert metrics[f"data/{name}_found"] == len(found)
        assert datamodule.input_files()[name] == path  # recorded with the run's data
    assert torch.isfinite(torch.cat([p.flatten() for p in model.parameters()])).all()


@pytest.mark.parametrize(
    "task, overrides, expected",
    [
        ("translation", ("data.tokenizer=bpe",), "data.tokenizer=word"),
        ("generation", ("data.level=char",), "data.level=word"),
    ],
)
def test_vectors_for_subwords_or_characters_are_refused_naming_the_key(
    task, overrides, expected, tmp_path
):
    path = tmp_path / "vectors.txt"
    path.write_text("the 1 2 3\n")
    cfg = composed(f"experiment={task}", *overrides, f"data.embeddings_path={path}")
    with pytest.raises(InstantiationException, match=f"data.embeddings_path: expected word-level "
                       rf"tokens \({expected}\)"):  # fmt: skip
        instantiate(cfg.data)
