"""ShardSampler: what each DDP process takes."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from cgt.data.distributed import ShardSampler


def rank_batches(size, batch_size, world, seed=1):
    """Every process's batches, as its DataLoader yields them (same generator seed each)."""
    out = []
    for rank in range(world):
        generator = torch.Generator().manual_seed(seed)
        sampler = ShardSampler(size, batch_size, world, rank, True, generator)
        assert isinstance(sampler, DistributedSampler)  # so Lightning keeps it
        loader = DataLoader(list(range(size)), batch_size=sampler.local_batch, sampler=sampler,
                            generator=generator)  # fmt: skip
        out.append([b.tolist() for b in loader])
        assert sum(map(len, out[-1])) == len(sampler)
    return out


@pytest.mark.parametrize(("size", "batch_size", "world"), [(40, 8, 2), (45, 12, 3), (35, 8, 2)])
def test_processes_together_take_the_single_process_batches(size, batch_size, world):
    single = DataLoader(list(range(size)), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(1))  # fmt: skip
    expected = [b.tolist() for b in single]
    parts = rank_batches(size, batch_size, world)
    assert len({len(p) for p in parts}) == 1  # the same number of steps everywhere
    together = [sum((p[step] for p in parts), []) for step in range(len(parts[0]))]
    assert together == expected


def test_a_last_batch_smaller_than_the_processes_is_padded():
    parts = rank_batches(9, 8, 4)  # last global batch: 1 molecule for 4 processes
    assert all(len(p) == 2 and len(p[1]) == 1 for p in parts)
    assert sorted({i for p in parts for b in p for i in b}) == list(range(9))


def test_evaluation_blocks_cover_the_split_once():
    blocks = [list(ShardSampler(1001, 33, 3, rank, False)) for rank in range(3)]
    assert sum(blocks, []) == list(range(1001))


def test_the_global_batch_must_divide():
    with pytest.raises(ValueError, match="global batch size"):
        ShardSampler(10, 5, 2, 0, True)
