"""Which molecules each process of a multi-process (DDP) run takes.

:class:`ShardSampler` is the sampler of every loader of the cgt data modules when Lightning
runs several processes (DDP). It is a ``DistributedSampler``, so Lightning keeps it instead of
putting its own (which pads evaluation splits with repeated molecules). It yields batches of
positions (a ``DataLoader`` with ``batch_size=None``):

- **training**: the epoch's order is the one a single process draws (the same generator
  and draws as ``DataLoader(shuffle=True)``). It is cut into global batches by the rule of
  one process (:func:`~cgt.data.batching.cut_batches`: at most ``batch_size`` molecules and
  ``max_pairs`` atom pairs), except that every global batch holds at least N molecules: a
  batch is not closed before it has N, and a last batch of fewer takes the ones it lacks
  from the end of the batch before it (or is merged into it when that one would keep fewer
  than N). Process r takes molecules ``[r·k//N, (r+1)·k//N)`` of each global batch of k, so
  every process takes the same number of steps, none of them empty (DDP would hang), and
  every molecule is taken once per epoch. A molecule over ``max_pairs`` pairs starts a
  global batch of exactly N molecules, so it is alone in its process's batch (except when it
  ends up in the epoch's merged last batch). Global batches of ``batch_size`` molecules are
  split evenly: with synchronised BatchNorm the N processes then take the steps of one
  process (up to reduction order); a batch that ``max_pairs`` cut or the last one is split
  as evenly as its count allows.
- **evaluation**: process r takes the r-th of N contiguous blocks of the split, with no
  molecule left out or repeated, so metrics gathered over the processes are those of the
  whole split; its block is cut by the same rule with ``batch_size/N`` molecules and
  ``max_pairs/N`` pairs per batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DistributedSampler

from cgt.data.batching import MoleculeBatchSampler

__all__ = ["ShardSampler"]


class ShardSampler(DistributedSampler):
    """Batches of positions ``0..M-1`` taken by process ``rank`` of ``num_replicas``.

    Args:
        sizes: Int[M] atom count of the molecule at each position.
        batch_size: the global batch size (divisible by ``num_replicas``); each process
            yields its ``batch_size / num_replicas`` positions of each global batch in turn.
        max_pairs: most atom pairs of a global batch (``None``: molecule count only).
        num_replicas, rank: the processes and this one.
        shuffle: training order (drawn from ``generator``) or evaluation blocks.
        generator: the shuffling generator (the data module's); give it to the DataLoader
            too, which draws its base seed from it first, as in one process.
    """

    def __init__(
        self,
        sizes: Sequence[int] | np.ndarray,
        batch_size: int,
        max_pairs: int | None,
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
        sizes = np.asarray(sizes, dtype=np.int64)
        super().__init__(range(len(sizes)), num_replicas=num_replicas, rank=rank, shuffle=False)
        self.train = shuffle
        self.local_batch = batch_size // num_replicas
        if shuffle:
            self._batches = MoleculeBatchSampler(
                sizes, batch_size, max_pairs, True, generator, min_size=num_replicas
            )
            self._first = 0
        else:
            self._first = rank * len(sizes) // num_replicas
            block = sizes[self._first : (rank + 1) * len(sizes) // num_replicas]
            local_pairs = None if max_pairs is None else max(1, max_pairs // num_replicas)
            self._batches = MoleculeBatchSampler(block, self.local_batch, local_pairs, False)
        self.num_samples = len(self._batches)  # DistributedSampler's count: batches here

    def __iter__(self) -> Iterator[list[int]]:
        r, n = self.rank, self.num_replicas
        for batch in self._batches:
            if self.train:
                yield batch[r * len(batch) // n : (r + 1) * len(batch) // n]
            else:
                yield [self._first + i for i in batch]

    def __len__(self) -> int:
        return self.num_samples
