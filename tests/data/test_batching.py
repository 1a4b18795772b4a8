"""The replayable training order behind exact resume."""

from __future__ import annotations

from rnnpipe.data.batching import ResumableShuffle


def test_resumable_shuffle_rebuilds_any_epoch_and_resumes_inside_it():
    sampler = ResumableShuffle(10, seed=3)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert sorted(epoch0) == sorted(epoch1) == list(range(10))
    assert epoch0 != epoch1
    assert epoch1 == list(sampler)  # the same epoch twice: the same order

    resumed = ResumableShuffle(10, seed=3)
    resumed.resume(epoch=1, samples_done=4)
    assert list(resumed) == epoch1[4:]
    assert list(resumed) == epoch1  # the skip applies to the interrupted pass only
    assert len(resumed) == 10  # Lightning counts the batches done before the resume itself

    finished = ResumableShuffle(10, seed=3)
    finished.resume(epoch=0, samples_done=10)  # saved at an epoch's end: the next one starts
    assert list(finished) == epoch1
