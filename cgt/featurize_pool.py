"""Featurizing in worker processes while the model runs in the main one.

:class:`FeaturizePool` takes chunks of inputs and gives back, in the order they were given,
each chunk with :func:`cgt.inference.featurize` of its SMILES. Each chunk is split among the
workers, which run :func:`~cgt.data.smiles_to_graph.featurize_arrays` and send numpy arrays
back (torch tensors would each travel as a shared-memory file descriptor); the graphs are
made in the main process. The pool keeps a bounded number of chunks in flight
(``ahead``), so memory does not grow with the number of chunks while the workers featurize
the next chunks during the model's forward passes on the current one. Workers are started
with the ``spawn`` method (safe with threads and CUDA in the main process); ``workers=0``
featurizes in the calling process.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from cgt.data.smiles_to_graph import featurize_arrays
from cgt.inference import DEFAULT_MAX_ATOMS, Featurized, featurize

__all__ = ["FeaturizePool", "default_workers"]

T = TypeVar("T")


def default_workers() -> int:
    """One worker per CPU this process may use, minus one for the model, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(0, min(8, cpus - 1))


class FeaturizePool:
    """Featurizes chunks of SMILES in ``workers`` processes, results in input order.

    Args:
        featurizer: the featurizer name (``CGTPredictor.featurizer``).
        workers: worker processes; 0 featurizes in the calling process.
        ahead: chunks submitted beyond the one being consumed (bounds memory).
        max_atoms: larger molecules are failures (as for ``CGTPredictor.predict``).

    Use as a context manager; :meth:`map` yields ``(item, featurized)`` pairs.
    """

    def __init__(
        self, featurizer: str, workers: int, ahead: int = 2, max_atoms: int = DEFAULT_MAX_ATOMS
    ) -> None:
        if workers < 0:
            raise ValueError(f"workers must be at least 0, got {workers}")
        if ahead < 1:
            raise ValueError(f"ahead must be at least 1, got {ahead}")
        self.featurizer = featurizer
        self.workers = workers
        self.ahead = ahead
        self.max_atoms = max_atoms
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> FeaturizePool:
        if self.workers:
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _submit(self, smiles: list[Any]) -> list[Future]:
        """``featurize_arrays`` of ``smiles``, split among the workers (numpy arrays come
        back; the graphs are made here)."""
        assert self._executor is not None
        size = max(1, math.ceil(len(smiles) / self.workers))
        pieces = [smiles[i : i + size] for i in range(0, len(smiles), size)]
        return [
            self._executor.submit(featurize_arrays, p, self.featurizer, self.max_atoms)
            for p in pieces
        ]

    def map(self, items: Iterable[tuple[T, list[Any]]]) -> Iterator[tuple[T, Featurized]]:
        """``(item, featurize(smiles))`` for each ``(item, smiles)`` of ``items``, in order."""
        if self._executor is None:
            if self.workers:
                raise RuntimeError("FeaturizePool.map needs the pool entered (use `with`)")
            for item, smiles in items:
                yield item, featurize(smiles, self.featurizer, max_atoms=self.max_atoms)
            return
        queue: deque[tuple[T, list[Any], list[Future]]] = deque()
        source = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(queue) <= self.ahead:
                try:
                    item, smiles = next(source)
                except StopIteration:
                    exhausted = True
                    break
                smiles = list(smiles)
                queue.append((item, smiles, self._submit(smiles)))
            if not queue:
                return
            item, smiles, futures = queue.popleft()
            arrays = [value for future in futures for value in future.result()]
            yield item, featurize(smiles, self.featurizer, arrays, self.max_atoms)
