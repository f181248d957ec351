"""ShardSampler: what each DDP process takes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from cgt.data.batching import MoleculeBatchSampler
from cgt.data.distributed import ShardSampler


def rank_batches(sizes, batch_size, world, max_pairs=None, seed=1, epochs=1):
    """Every process's batches of each epoch, as its DataLoader yields them (same seed each)."""
    out = []
    for rank in range(world):
        generator = torch.Generator().manual_seed(seed)
        sampler = ShardSampler(sizes, batch_size, max_pairs, world, rank, True, generator)
        assert isinstance(sampler, DistributedSampler)  # so Lightning keeps it
        loader = DataLoader(torch.arange(len(sizes)), batch_size=None, sampler=sampler,
                            generator=generator)  # fmt: skip
        out.append([[b.tolist() for b in loader] for _ in range(epochs)])
        assert all(len(epoch) <= len(sampler) for epoch in out[-1])
    return out


@pytest.mark.parametrize(("size", "batch_size", "world"), [(40, 8, 2), (45, 12, 3), (35, 8, 2)])
def test_processes_together_take_the_single_process_batches(size, batch_size, world):
    single = DataLoader(list(range(size)), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(1))  # fmt: skip
    expected = [b.tolist() for b in single]
    parts = [p[0] for p in rank_batches(np.full(size, 20), batch_size, world, 2**16)]
    assert len({len(p) for p in parts}) == 1  # the same number of steps everywhere
    together = [sum((p[step] for p in parts), []) for step in range(len(parts[0]))]
    assert together == expected


def sizes_with_giants(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 30, 157)
    sizes[rng.choice(157, 5, replace=False)] = [400, 120, 120, 60, 1000]
    return sizes


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_pair_cut_shards_take_every_molecule_once_in_equal_nonempty_steps(world, seed):
    sizes = sizes_with_giants(seed)
    max_pairs = 3000  # cuts most batches of 12 and leaves each giant alone
    for epoch in range(2):
        parts = [p[epoch] for p in rank_batches(sizes, 12, world, max_pairs, seed, epochs=2)]
        assert len({len(p) for p in parts}) == 1  # the same number of steps everywhere
        assert all(batch for p in parts for batch in p)  # no process has an empty batch
        taken = sorted(i for p in parts for batch in p for i in batch)
        assert taken == list(range(len(sizes)))  # every molecule exactly once
        steps = list(zip(*parts, strict=True))
        for step in steps[:-1]:  # the last global batch may merge a giant with others
            for batch in step:
                if len(batch) > 1:
                    assert (sizes[batch] ** 2).sum() <= max_pairs
        giants = [b for p in parts for b in p if (sizes[b] ** 2).max() > max_pairs]
        assert sum(len(b) == 1 for b in giants) >= len(giants) - 1


def test_one_process_takes_the_batches_of_the_single_process_sampler():
    sizes = sizes_with_giants(0)
    generator = torch.Generator().manual_seed(1)
    single = MoleculeBatchSampler(sizes, 12, 3000, True, generator)
    expected = [[b.tolist() for b in DataLoader(torch.arange(len(sizes)), batch_size=None,
                                               sampler=single, generator=generator)]]  # fmt: skip
    assert rank_batches(sizes, 12, 1, 3000)[0] == expected


def test_a_giant_starts_a_global_batch_of_one_molecule_per_process():
    sizes = np.full(10, 10)
    sizes[4] = 500  # 250,000 pairs
    checked = 0
    for seed in range(8):
        parts = [p[0] for p in rank_batches(sizes, 4, 2, 1000, seed=seed)]
        step = next(s for s, batch in enumerate(parts[0] + parts[1]) if 4 in batch) % len(parts[0])
        if step < len(parts[0]) - 1:  # not the epoch's last global batch (borrowed or merged)
            pair = (parts[0][step], parts[1][step])
            assert [4] in pair and len(pair[0]) == len(pair[1]) == 1
            checked += 1
    assert checked >= 4


def test_a_last_batch_smaller_than_the_processes_borrows_molecules():
    parts = [p[0] for p in rank_batches(np.full(9, 10), 8, 4)]  # last global batch: 1 molecule
    # global batches of 5 and 4 (the last borrowed 3 of the 8 before it)
    assert [[len(b) for b in p] for p in parts] == [[1, 1], [1, 1], [1, 1], [2, 1]]
    assert sorted(i for p in parts for b in p for i in b) == list(range(9))


def test_evaluation_blocks_cover_the_split_once():
    sizes = np.full(1001, 20)
    blocks = [list(ShardSampler(sizes, 33, None, 3, rank, False)) for rank in range(3)]
    assert [i for block in blocks for batch in block for i in batch] == list(range(1001))
    assert {len(batch) for block in blocks for batch in block} == {11, 334 - 30 * 11, 333 - 330}
    sizes[500] = 300  # above max_pairs / 3 pairs: alone in process 1's block
    middle = list(ShardSampler(sizes, 33, 2**16, 3, 1, False))
    assert [500] in middle and sum(middle, []) == list(range(333, 667))


def test_the_global_batch_must_divide():
    with pytest.raises(ValueError, match="global batch size"):
        ShardSampler(np.ones(10), 5, None, 2, 0, True)
