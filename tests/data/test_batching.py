"""cut_batches, max_batches and MoleculeBatchSampler: batches cut by count and atom pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cgt.data.batching import MoleculeBatchSampler, cut_batches, max_batches


def pairs(sizes, run) -> int:
    return int((np.asarray(sizes[run[0] : run[1]]) ** 2).sum())


@pytest.mark.parametrize("seed", range(5))
def test_every_batch_keeps_the_limits_and_is_cut_only_when_needed(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = np.where(rng.random(300) < 0.03, rng.integers(60, 200, 300), rng.integers(5, 38, 300))
    runs = cut_batches(sizes, 32, 5000)
    assert [start for start, _ in runs[1:]] == [stop for _, stop in runs[:-1]]
    assert runs[0][0] == 0 and runs[-1][1] == 300
    for (start, stop), (after, _) in zip(runs, runs[1:] + [(300, None)], strict=True):
        assert 0 < stop - start <= 32
        assert pairs(sizes, (start, stop)) <= 5000 or stop - start == 1
        if after < 300:  # closed only because the next molecule would not fit
            assert stop - start == 32 or pairs(sizes, (start, stop + 1)) > 5000


def test_a_molecule_above_max_pairs_is_alone() -> None:
    sizes = [10, 10, 10, 300, 10, 10]
    assert cut_batches(sizes, 32, 1000) == [(0, 3), (3, 4), (4, 6)]
    assert cut_batches(sizes, 32, None) == [(0, 6)]  # molecule count only
    assert cut_batches(sizes, 4, None) == [(0, 4), (4, 6)]
    assert cut_batches([], 4, 10) == []


def test_min_size_gives_every_batch_that_many() -> None:
    # the giant's batch takes a second molecule; the last batch, alone, borrows one
    assert cut_batches([10] * 5 + [300], 32, 1000, min_size=2) == [(0, 4), (4, 6)]
    # ... or is merged when the batch before it cannot spare one
    assert cut_batches([10, 10, 10, 300, 10, 10], 32, 1000, min_size=2) == [(0, 3), (3, 6)]
    assert cut_batches([10] * 9, 8, None, min_size=4) == [(0, 5), (5, 9)]
    with pytest.raises(ValueError, match="3 molecules cannot make batches of at least 4"):
        cut_batches([10] * 3, 8, None, min_size=4)


def test_bad_limits_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="max_pairs"):
        cut_batches([3], 4, 0)
    with pytest.raises(ValueError, match="batch_size"):
        cut_batches([3], 0, 10)
    with pytest.raises(ValueError, match="min_size"):
        cut_batches([3], 2, 10, min_size=3)
    with pytest.raises(ValueError, match="sizes"):
        MoleculeBatchSampler(np.ones((2, 2)), 4, None, False)


def zinc_like_with_giants(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(10, 39, 2000)
    sizes[rng.choice(2000, 6, replace=False)] = [1000, 300, 300, 260, 500, 120]
    return sizes


@pytest.mark.parametrize("min_size", [1, 2, 3])
def test_max_batches_bounds_every_order_and_is_tight(min_size: int) -> None:
    sizes = zinc_like_with_giants()
    bound = max_batches(sizes, 33, 2**16, min_size)
    rng = np.random.default_rng(1)
    counts = [len(cut_batches(rng.permutation(sizes), 33, 2**16, min_size)) for _ in range(30)]
    assert max(counts) <= bound <= 1.1 * max(counts)
    adversarial = np.sort(sizes)  # the giants last, each a batch of its own
    assert len(cut_batches(adversarial, 33, 2**16, min_size)) <= bound


def test_max_batches_is_exact_when_pairs_cannot_cut() -> None:
    sizes = np.random.default_rng(0).integers(10, 39, 1001)
    assert max_batches(sizes, 32, 2**16) == 32  # 32 molecules of ≤ 38 atoms: ≤ 46,208 pairs
    assert max_batches(sizes, 32, None) == 32
    assert max_batches([10] * 9, 8, None, min_size=4) == 2


def epochs(loader, count: int = 2) -> list[list[list[int]]]:
    return [[batch.tolist() for batch in loader] for _ in range(count)]


def test_shuffled_batches_are_those_of_a_shuffling_dataloader_unless_pairs_cut() -> None:
    size = 203
    expected = epochs(DataLoader(list(range(size)), batch_size=16, shuffle=True,
                                 generator=torch.Generator().manual_seed(3)))  # fmt: skip
    for max_pairs in (None, 16 * 38**2):
        generator = torch.Generator().manual_seed(3)
        sampler = MoleculeBatchSampler(np.full(size, 38), 16, max_pairs, True, generator)
        loader = DataLoader(torch.arange(size), batch_size=None, sampler=sampler,
                            generator=generator)  # fmt: skip
        assert epochs(loader) == expected and len(loader) == len(expected[0])
    generator = torch.Generator().manual_seed(3)
    sampler = MoleculeBatchSampler(np.full(size, 38), 16, 15 * 38**2, True, generator)
    cut = epochs(DataLoader(torch.arange(size), batch_size=None, sampler=sampler,
                            generator=generator))  # fmt: skip
    assert len(cut[0]) == len(sampler) and max(len(b) for b in cut[0]) == 15
    assert [i for b in cut[0] for i in b] == [i for b in expected[0] for i in b]  # same order


def test_a_shuffled_epoch_has_exactly_the_length_it_reports() -> None:
    # Lightning reads the length once; an epoch that ends early skips its validation.
    sizes = np.random.default_rng(0).integers(5, 120, 400)
    for min_size in (1, 2, 3):
        sampler = MoleculeBatchSampler(sizes, 24, 40_000, True, torch.Generator().manual_seed(1),
                                       min_size=min_size)  # fmt: skip
        for _ in range(20):
            batches = list(sampler)
            assert len(batches) == len(sampler)
            assert sorted(i for b in batches for i in b) == list(range(len(sizes)))
            assert min(len(b) for b in batches) >= min_size
            if min_size == 1:  # (a larger min_size may take a batch past max_pairs)
                assert all(len(b) == 1 or int((sizes[b] ** 2).sum()) <= 40_000 for b in batches)


def test_in_order_batches_follow_the_positions() -> None:
    sizes = [10] * 5 + [300] + [10] * 5
    sampler = MoleculeBatchSampler(sizes, 4, 1000, False)
    assert list(sampler) == [[0, 1, 2, 3], [4], [5], [6, 7, 8, 9], [10]]
    assert len(sampler) == 5
