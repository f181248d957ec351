"""The featurizing loop (:func:`~cgt.data.smiles_to_graph.featurize_arrays`) in worker processes.

Building a dataset featurizes every molecule once (ZINC-full: 249,456); split into pieces,
the work runs in ``workers`` processes (started with ``spawn``, safe with threads) and the
pieces come back in input order, so the result is the list one process gives.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from typing import Any

import numpy as np

from cgt.data.smiles_to_graph import featurize_arrays
from cgt.errors import MoleculeError

__all__ = ["featurize_arrays_parallel", "available_cpus", "PIECE_ROWS", "AUTO_MIN_ROWS"]

#: Molecules per task sent to a worker (large enough that sending results back is cheap
#: against featurizing them, small enough to keep every worker busy to the end).
PIECE_ROWS = 4096


#: Fewest molecules for which ``workers=None`` starts worker processes (starting them costs
#: seconds, featurizing runs about 3,000 molecules per second and process).
AUTO_MIN_ROWS = 50_000


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def featurize_arrays_parallel(
    smiles: Sequence[Any], featurizer: str, workers: int | None = None
) -> list[dict[str, np.ndarray] | MoleculeError]:
    """:func:`~cgt.data.smiles_to_graph.featurize_arrays` of ``smiles`` in ``workers``
    processes (in this process for 0 or 1 workers, or fewer than two pieces of input).
    ``None``: one per available CPU for :data:`AUTO_MIN_ROWS` molecules or more, else 0."""
    smiles = list(smiles)
    if workers is None:
        workers = available_cpus() if len(smiles) >= AUTO_MIN_ROWS else 0
    if workers < 0:
        raise ValueError(f"workers must be at least 0, got {workers}")
    if workers <= 1 or len(smiles) < 2 * PIECE_ROWS:
        return featurize_arrays(smiles, featurizer)
    pieces = [smiles[i : i + PIECE_ROWS] for i in range(0, len(smiles), PIECE_ROWS)]
    context = multiprocessing.get_context("spawn")
    out: list[dict[str, np.ndarray] | MoleculeError] = []
    with ProcessPoolExecutor(workers, mp_context=context) as executor:
        for part in executor.map(featurize_arrays, pieces, repeat(featurizer)):
            out.extend(part)
    return out
