"""Which molecules each process of a multi-process (DDP) run takes.

:class:`ShardSampler` is the sampler of every loader of the cgt data modules when Lightning
runs several processes (DDP). It is a ``DistributedSampler``, so Lightning keeps it instead of
putting its own (which pads evaluation splits with repeated molecules):

- **training**: the epoch's order is the one a single process draws (the same generator
  and draws as ``DataLoader(shuffle=True)``); it is cut into global batches of
  ``batch_size`` molecules and process r takes the r-th of N consecutive slices of every
  global batch. With synchronised BatchNorm, the N processes together take the steps of one
  process with batches of ``batch_size``: the same run, up to reduction order. A last
  global batch of fewer than N molecules is padded with its last molecule (like
  ``DistributedSampler``) so that every process takes the same number of steps.
- **evaluation**: process r takes the r-th of N contiguous blocks of the split, with no
  molecule left out or repeated, so metrics gathered over the processes are those of the
  whole split.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DistributedSampler, RandomSampler

__all__ = ["ShardSampler"]


class ShardSampler(DistributedSampler):
    """Positions ``0..size-1`` taken by process ``rank`` of ``num_replicas``.

    Args:
        size: molecules in the split.
        batch_size: the global batch size (divisible by ``num_replicas``); each process
            yields its ``batch_size / num_replicas`` positions of each global batch in turn.
        num_replicas, rank: the processes and this one.
        shuffle: training order (drawn from ``generator``) or evaluation blocks.
        generator: the shuffling generator (the data module's); give it to the DataLoader
            too, which draws its base seed from it first, as in one process.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        num_replicas: int,
        rank: int,
        shuffle: bool,
        generator: torch.Generator | None = None,
    ) -> None:
        if batch_size % num_replicas:
            raise ValueError(
                f"batch_size {batch_size} is the global batch size and must be divisible by "
                f"the {num_replicas} processes"
            )
        super().__init__(range(size), num_replicas=num_replicas, rank=rank, shuffle=False)
        self.size = size
        self.global_batch = batch_size
        self.local_batch = batch_size // num_replicas
        self.train = shuffle
        self.generator = generator
        if shuffle:
            batches = -(-size // batch_size)
            self.num_samples = (batches - 1) * self.local_batch + self._last_share(batches)
        else:
            self.num_samples = len(self._block())

    def _last_share(self, batches: int) -> int:
        """This process's number of molecules in the last global batch."""
        last = self.size - (batches - 1) * self.global_batch
        if last == self.global_batch:
            return self.local_batch
        r, n = self.rank, self.num_replicas
        return max(1, (r + 1) * last // n - r * last // n)

    def _block(self) -> range:
        start = self.rank * self.size // self.num_replicas
        return range(start, (self.rank + 1) * self.size // self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        if not self.train:
            return iter(self._block())
        order = list(RandomSampler(range(self.size), generator=self.generator))
        mine: list[int] = []
        for start in range(0, self.size, self.global_batch):
            batch = order[start : start + self.global_batch]
            if len(batch) == self.global_batch:
                first = self.rank * self.local_batch
                mine += batch[first : first + self.local_batch]
            else:  # the last, smaller batch: as even a split as can be, never empty
                share = batch[self.rank * len(batch) // self.num_replicas :
                              (self.rank + 1) * len(batch) // self.num_replicas]  # fmt: skip
                mine += share or batch[-1:]
        return iter(mine)

    def __len__(self) -> int:
        return self.num_samples
