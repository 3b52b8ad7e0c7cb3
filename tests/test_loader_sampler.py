"""The resumable, rank-aware, length/modality-grouped batch sampler."""
from __future__ import annotations

import numpy as np
import pytest

from loader.sampler import ResumableBatchSampler


def epoch_batches(sampler: ResumableBatchSampler) -> list[list[int]]:
    return [b for b in sampler]


def test_one_epoch_covers_every_sample_once_per_rank_group():
    n, bs, ws = 103, 4, 3
    per_rank = [epoch_batches(ResumableBatchSampler(n, bs, rank=r, world_size=ws, seed=1)) for r in range(ws)]
    assert len({len(b) for b in per_rank}) == 1  # same number of steps on every rank
    assert all(len(batch) == bs for batches in per_rank for batch in batches)
    flat = [i for batches in per_rank for b in batches for i in b]
    assert set(flat) == set(range(n))
    assert len(flat) - n < bs * ws  # only the padding of the last global batch repeats
    # Ranks see disjoint samples apart from that padding.
    counts = np.bincount(flat, minlength=n)
    padded = set(np.flatnonzero(counts > 1).tolist())
    r0, r1 = ({i for b in per_rank[k] for i in b} for k in (0, 1))
    assert (r0 & r1) <= padded


def test_resume_consumes_no_sample_twice():
    lengths = np.random.default_rng(0).integers(5, 500, size=200)
    text_only = np.random.default_rng(1).random(200) < 0.3
    make = lambda: ResumableBatchSampler(200, 8, rank=1, world_size=2, seed=7, lengths=lengths,  # noqa: E731
                                          text_only=text_only)
    ref = make()
    full = epoch_batches(ref) + epoch_batches(ref)  # two epochs uninterrupted
    s = make()
    it = iter(s)
    got = [next(it) for _ in range(5)]
    state = s.state_dict()
    assert state["epoch"] == 0 and state["position"] == 5
    resumed = make()
    resumed.load_state_dict(state)
    got += epoch_batches(resumed) + epoch_batches(resumed)
    assert got == full
    assert resumed.state_dict()["epoch"] == 2


def test_consumed_batches_override_for_prefetching_loaders():
    s = ResumableBatchSampler(50, 5, seed=3)
    it = iter(s)
    batches = [next(it) for _ in range(6)]  # a prefetching DataLoader pulled 6, the loop used 4
    state = s.state_dict(consumed_batches=4)
    resumed = ResumableBatchSampler(50, 5, seed=3)
    resumed.load_state_dict(state)
    assert next(iter(resumed)) == batches[4]


def test_epochs_differ_and_seed_is_deterministic():
    a = epoch_batches(ResumableBatchSampler(40, 4, seed=0))
    b = epoch_batches(ResumableBatchSampler(40, 4, seed=0))
    s = ResumableBatchSampler(40, 4, seed=0)
    e0, e1 = epoch_batches(s), epoch_batches(s)
    assert a == b == e0 and e0 != e1


def test_length_grouping_reduces_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 1000, size=512)

    def waste(sampler):
        return sum(int(lengths[b].max()) * len(b) - int(lengths[b].sum()) for b in sampler)

    plain = waste(ResumableBatchSampler(512, 8, seed=0))
    grouped = waste(ResumableBatchSampler(512, 8, seed=0, lengths=lengths))
    assert grouped < plain / 5


def test_modality_grouping_gives_pure_batches():
    text_only = np.arange(90) % 3 == 0
    s = ResumableBatchSampler(90, 4, seed=0, text_only=text_only, lengths=np.arange(90))
    batches = epoch_batches(s)
    assert all(len({bool(text_only[i]) for i in b}) == 1 for b in batches)
    assert {i for b in batches for i in b} == set(range(90))


def test_drop_last_and_len():
    s = ResumableBatchSampler(10, 4, drop_last=True, shuffle=False)
    assert epoch_batches(s) == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(s) == 2
    assert len(ResumableBatchSampler(10, 4)) == 3


def test_state_from_another_setup_is_refused():
    s = ResumableBatchSampler(10, 2, world_size=2)
    with pytest.raises(ValueError, match="world_size"):
        ResumableBatchSampler(10, 2, world_size=1).load_state_dict(s.state_dict())
