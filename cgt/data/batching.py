"""Batches cut by molecule count and by atom pairs: the one rule of training and prediction.

The model's pair tensors hold every atom pair of every molecule (Σ n² per batch), so a batch
is cut when its next molecule would take it past ``batch_size`` molecules or past
``max_pairs`` pairs. One large molecule then runs alone instead of inflating the batch of
small ones beside it; a molecule of more than ``max_pairs`` pairs still runs, alone.

- :func:`cut_batches`: the rule, on a sequence of atom counts.
- :func:`max_batches`: the most batches the rule cuts from the same molecules in any order
  (what a shuffled loader reports as its length).
- :class:`MoleculeBatchSampler`: an epoch's batches of positions, shuffled or in order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import RandomSampler, Sampler

__all__ = ["DEFAULT_MAX_PAIRS", "MoleculeBatchSampler", "cut_batches", "max_batches"]

#: Atom pairs per batch by default, in training and prediction: 2¹⁶, above the ~46,000
#: pairs that 32 molecules of ZINC (≤ 38 atoms) can reach, so ZINC batches of 32 are never
#: cut, while a molecule of 256 atoms or more runs alone.
DEFAULT_MAX_PAIRS = 1 << 16


def cut_batches(
    sizes: Sequence[int] | np.ndarray,
    batch_size: int | None = None,
    max_pairs: int | None = None,
    min_size: int = 1,
) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` batches of the molecules of ``sizes`` atoms, in order.

    A batch is closed before its next molecule when that molecule would take it past
    ``batch_size`` molecules or past ``max_pairs`` atom pairs (Σ n²) and it already holds
    ``min_size`` molecules; ``None`` is no limit. With ``min_size`` 1, a molecule of more
    than ``max_pairs`` pairs is a batch of its own. With a larger ``min_size`` (one molecule
    per process under DDP) every batch gets at least that many: the last batch, when
    smaller, takes the molecules it lacks from the end of the batch before it, or is merged
    into it when that one would keep fewer than ``min_size``.

    Args:
        sizes: Int[M] atom count of each molecule, in batch order.
        batch_size: most molecules per batch (at least ``min_size``), or ``None``.
        max_pairs: most atom pairs per batch, or ``None``.
        min_size: fewest molecules per batch; ``len(sizes)`` must reach it (unless 0).

    Returns:
        ``(start, stop)`` of each batch; they cover ``0..M`` in order, none empty.
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (or None), got {batch_size}")
    if max_pairs is not None and max_pairs < 1:
        raise ValueError(f"max_pairs must be at least 1 (or None), got {max_pairs}")
    if min_size < 1 or (batch_size is not None and batch_size < min_size):
        raise ValueError(
            f"min_size must be between 1 and batch_size ({batch_size}), got {min_size}"
        )
    squares = (np.asarray(sizes, dtype=np.int64) ** 2).tolist()
    if 0 < len(squares) < min_size:
        raise ValueError(
            f"{len(squares)} molecules cannot make batches of at least {min_size} molecules"
        )
    most = len(squares) if batch_size is None else batch_size
    limit = float("inf") if max_pairs is None else max_pairs
    runs: list[tuple[int, int]] = []
    start, pairs = 0, 0
    for i, square in enumerate(squares):
        count = i - start
        if count >= min_size and (count + 1 > most or pairs + square > limit):
            runs.append((start, i))
            start, pairs = i, 0
        pairs += square
    if start < len(squares):
        runs.append((start, len(squares)))
    if len(runs) > 1 and runs[-1][1] - runs[-1][0] < min_size:
        (first, middle), (_, stop) = runs[-2:]
        lack = min_size - (stop - middle)
        if middle - lack - first >= min_size:
            runs[-2:] = [(first, middle - lack), (middle - lack, stop)]
        else:
            runs[-2:] = [(first, stop)]
    return runs


def max_batches(
    sizes: Sequence[int] | np.ndarray,
    batch_size: int | None = None,
    max_pairs: int | None = None,
    min_size: int = 1,
) -> int:
    """The most batches :func:`cut_batches` cuts from these molecules in any order.

    Exact when ``max_pairs`` cannot close a batch (the ``batch_size`` largest molecules
    together have at most ``max_pairs`` pairs): the count is then the same for every order.
    Otherwise an upper bound: each batch but the last is closed by its count
    (``batch_size`` molecules) or by its pairs plus those of the next batch's first
    molecule (over ``max_pairs``), so with ``u = min(1, max(1/batch_size, n²/max_pairs))``
    and ``v = min(1, n²/max_pairs)`` per molecule, K batches need
    ``K - 1 <= Σu + (sum of the K - 1 largest v)``.

    Args:
        sizes: Int[M] atom count of each molecule, in any order.
        batch_size, max_pairs, min_size: as for :func:`cut_batches`.
    """
    squares = np.asarray(sizes, dtype=np.int64) ** 2
    count = len(squares)
    largest = squares if batch_size is None else np.sort(squares)[::-1][:batch_size]
    if max_pairs is None or int(largest.sum()) <= max_pairs:
        return len(cut_batches(np.zeros(count, np.int64), batch_size, None, min_size))
    share = squares / max_pairs
    u = np.minimum(1.0, share if batch_size is None else np.maximum(1 / batch_size, share))
    v = np.sort(np.minimum(1.0, share))[::-1]
    reach = 1 + u.sum() + np.concatenate(([0.0], np.cumsum(v)))[:count] + 1e-6  # [K = 1..M]
    return int(np.flatnonzero(np.arange(1, count + 1) <= reach).max()) + 1


class MoleculeBatchSampler(Sampler[list[int]]):
    """An epoch's batches of positions ``0..M-1``, cut by :func:`cut_batches`.

    Give it as the ``sampler`` of a ``DataLoader`` with ``batch_size=None``. Shuffled, each
    epoch's order is drawn from ``generator`` exactly as ``DataLoader(shuffle=True)`` draws
    it (a ``RandomSampler``, drawn when the first batch is asked for), so batches that
    ``max_pairs`` does not cut are those of ``DataLoader(batch_size=..., shuffle=True)``
    with the same generator.

    Args:
        sizes: Int[M] atom count of the molecule at each position.
        batch_size: most molecules per batch.
        max_pairs: most atom pairs per batch (``None``: molecule count only).
        shuffle: a new order every epoch, or positions in order.
        generator: the shuffling generator (``None``: torch's global one).
        min_size: fewest molecules per batch (:func:`cut_batches`).
    """

    def __init__(
        self,
        sizes: Sequence[int] | np.ndarray,
        batch_size: int,
        max_pairs: int | None,
        shuffle: bool,
        generator: torch.Generator | None = None,
        min_size: int = 1,
    ) -> None:
        self.sizes = np.asarray(sizes, dtype=np.int64)
        if self.sizes.ndim != 1:
            raise ValueError(f"sizes must be one atom count per molecule, got shape "
                             f"{self.sizes.shape}")  # fmt: skip
        self.batch_size = batch_size
        self.max_pairs = max_pairs
        self.shuffle = shuffle
        self.generator = generator
        self.min_size = min_size
        in_order = cut_batches(self.sizes, batch_size, max_pairs, min_size)  # checks the limits
        self._length = (
            min(max_batches(self.sizes, batch_size, max_pairs, min_size),
                max(1, len(self.sizes) // min_size))
            if shuffle
            else len(in_order)
        )  # fmt: skip

    def batches(self) -> list[list[int]]:
        """The next epoch's batches (drawing its order from the generator when shuffled).

        Shuffled, there are always exactly ``len(self)`` of them: when an order cuts fewer
        than :func:`max_batches`, the largest batches are halved until the count is reached
        (Lightning reads a loader's length once, and an epoch that ends before it skips the
        validation that should close it). Halving keeps both limits, so the batches of ZINC,
        which the pairs never cut, are untouched.
        """
        count = len(self.sizes)
        if self.shuffle:
            order = list(RandomSampler(range(count), generator=self.generator))
        else:
            order = list(range(count))
        runs = cut_batches(self.sizes[order], self.batch_size, self.max_pairs, self.min_size)
        if self.shuffle and count:
            runs = _split_to(runs, self._length, self.min_size)
        return [order[start:stop] for start, stop in runs]

    def __iter__(self) -> Iterator[list[int]]:
        # A generator: the order is drawn on the first batch, after the DataLoader draws
        # its base seed from the same generator, as with DataLoader(shuffle=True).
        yield from self.batches()

    def __len__(self) -> int:
        """Batches in order; shuffled, the most any order gives (:func:`max_batches`)."""
        return self._length


def _split_to(runs: list[tuple[int, int]], target: int, min_size: int) -> list[tuple[int, int]]:
    """``runs`` with their largest batches halved (each half keeping ``min_size`` molecules)
    until there are ``target``; the order of the molecules is unchanged."""
    runs = list(runs)
    while len(runs) < target:
        k = max(range(len(runs)), key=lambda i: runs[i][1] - runs[i][0])
        start, stop = runs[k]
        if stop - start < 2 * min_size:
            raise RuntimeError(
                f"cannot cut {runs[-1][1]} molecules into {target} batches of at least "
                f"{min_size}: use a larger batch_size or max_pairs"
            )
        middle = (start + stop) // 2
        runs[k : k + 1] = [(start, middle), (middle, stop)]
    return runs
