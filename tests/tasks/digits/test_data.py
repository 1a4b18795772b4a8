"""Sequential digits: every image in exactly one split, stratified, the same split for every
seed, and the permuted variant one fixed reordering of the same pixels."""

from __future__ import annotations

from collections import Counter

import torch
from conftest import build_datamodule
from sklearn.datasets import load_digits

from rnnpipe.tasks.digits.data import PIXELS, digit_sequences, pixel_order


def split_images(**overrides) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    datamodule = build_datamodule("digits", **overrides)
    datamodule.setup("fit")
    return {
        split: (torch.stack([x for x, _ in items]), torch.stack([y for _, y in items]))
        for split, items in datamodule.splits.items()
    }


def test_every_image_is_in_exactly_one_split_with_the_stated_sizes():
    splits = split_images()
    images, _ = load_digits(return_X_y=True)
    assert [len(splits[s][1]) for s in ("train", "val", "test")] == [1257, 180, 360]
    rows = torch.cat([x[..., 0] for x, _ in splits.values()]) * 16
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, images.tolist()))


def test_splits_are_stratified_and_stay_put_when_the_seed_changes():
    one, other = split_images(seed=1), split_images(seed=2)
    for split in ("train", "val", "test"):
        assert torch.equal(one[split][0], other[split][0])  # split_seed, not seed, splits
    test_counts = Counter(one["test"][1].tolist())
    assert min(test_counts.values()) >= 35 and max(test_counts.values()) <= 37  # ~36 a class
    assert not torch.equal(split_images(split_seed=1)["test"][0], one["test"][0])


def test_the_permuted_variant_reads_the_same_pixels_in_one_fixed_order():
    order = pixel_order(permuted=True, permutation_seed=0)
    assert sorted(order.tolist()) == list(range(PIXELS)) and order.tolist() != list(range(PIXELS))
    assert torch.equal(order, pixel_order(permuted=True, permutation_seed=0))
    plain, labels = digit_sequences(pixel_order(permuted=False, permutation_seed=0))
    permuted, same_labels = digit_sequences(order)
    assert plain.shape == (1797, PIXELS, 1) and float(plain.max()) == 1.0
    assert torch.equal(permuted, plain[:, order]) and torch.equal(labels, same_labels)
