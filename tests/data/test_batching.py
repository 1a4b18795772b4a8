"""The replayable training order behind exact resume."""

from __future__ import annotations

from rnnpipe.data.batching import LengthBuckets, ResumableShuffle


def test_resumable_shuffle_rebuilds_any_epoch_and_resumes_inside_it():
    sampler = ResumableShuffle(10, seed=3, batch_size=2)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert sorted(epoch0) == sorted(epoch1) == list(range(10))
    assert epoch0 != epoch1
    assert epoch1 == list(sampler)  # the same epoch twice: the same order

    resumed = ResumableShuffle(10, seed=3, batch_size=2)
    resumed.resume(epoch=1, batches_done=2)
    assert list(resumed) == epoch1[4:]
    assert list(resumed) == epoch1  # the skip applies to the interrupted pass only
    assert len(resumed) == 10  # Lightning counts the batches done before the resume itself

    finished = ResumableShuffle(10, seed=3, batch_size=2)
    finished.resume(epoch=0, batches_done=5)  # saved at an epoch's end: the next one starts
    assert list(finished) == epoch1


def test_length_buckets_cover_every_sentence_once_per_epoch():
    lengths = [1, 30, 2, 29, 3, 28, 4, 27, 5, 26] * 10
    buckets = LengthBuckets(lengths, batch_size=10, seed=1, pool_batches=10)
    first = list(buckets)
    assert sorted(i for batch in first for i in batch) == list(range(100))
    assert len(first) == len(buckets) == 10
    # sorted within the pool: every batch holds one length class (x10 copies of 10 lengths)
    assert all(len({lengths[i] for i in batch}) == 1 for batch in first)
    assert list(buckets) == first  # a pure function of (seed, epoch)
    buckets.set_epoch(1)
    assert list(buckets) != first


def test_length_buckets_resume_inside_an_epoch():
    lengths = list(range(1, 41))
    reference = LengthBuckets(lengths, batch_size=4, seed=7, pool_batches=2)
    reference.set_epoch(2)
    epoch2 = list(reference)
    resumed = LengthBuckets(lengths, batch_size=4, seed=7, pool_batches=2)
    resumed.resume(epoch=2, batches_done=3)
    assert list(resumed) == epoch2[3:]
    finished = LengthBuckets(lengths, batch_size=4, seed=7, pool_batches=2)
    finished.resume(epoch=1, batches_done=10)  # all 10 batches of epoch 1 were done
    assert list(finished) == epoch2
