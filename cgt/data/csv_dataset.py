"""Molecules from a user's CSV file: a SMILES column and target columns."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cgt.data.cache import cache_dir, cache_key, file_digest, load_or_build
from cgt.data.featurizers import get_featurizer
from cgt.data.graph_store import GraphStore
from cgt.data.rings import RINGS_VERSION
from cgt.data.smiles_to_graph import featurize_rows
from cgt.errors import InvalidRowsError

__all__ = ["CSVDataset", "MISSING_MARKERS"]

log = logging.getLogger(__name__)

MISSING_MARKERS = frozenset({"", "na", "nan", "n/a", "null", "none"})
"""Target cells (case-insensitive, stripped) that mean "missing" (NaN)."""

ON_INVALID = ("raise", "skip")


class CSVDataset(GraphStore):
    """All rows of a CSV file as molecule graphs with their targets.

    Items are :class:`~cgt.data.MolGraph` with ``smiles`` and ``y`` Float[1, T] in the
    order of ``target_columns``; an empty (or ``NA``/``NaN``/``null``) target cell is a
    missing target (NaN). Processed graphs are cached like :class:`~cgt.data.ZINC`'s.

    Args:
        path: the CSV file.
        smiles_column: column holding the SMILES.
        target_columns: numeric target columns (a single name is accepted).
        featurizer: ``"atom"`` (general) or ``"zinc"``.
        on_invalid: a row whose molecule cannot be featurized makes ``"raise"`` fail with
            one :class:`~cgt.errors.InvalidRowsError` listing every such row, and
            ``"skip"`` leave it out (see :attr:`skipped`, and a logged warning).
        root: cache directory.
        workers: processes featurizing the file when its cache is built (``None``: one per
            CPU for files of 50,000 rows or more; 0: none). The result is the same.

    Attributes:
        skipped: ``(row, smiles, reason)`` of the rows left out (``on_invalid="skip"``).
        num_skipped: ``len(skipped)``.
        target_names: the target columns.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        smiles_column: str = "smiles",
        target_columns: Sequence[str] | str = (),
        featurizer: str = "atom",
        on_invalid: str = "raise",
        root: str | os.PathLike | None = None,
        workers: int | None = None,
    ) -> None:
        if on_invalid not in ON_INVALID:
            raise ValueError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
        if isinstance(target_columns, str):
            target_columns = [target_columns]
        self.path = Path(path)
        self.target_names = list(target_columns)
        chosen = get_featurizer(featurizer)
        key = cache_key(
            dataset="csv",
            source=file_digest(self.path),
            smiles_column=smiles_column,
            target_columns=self.target_names,
            featurizer=chosen.name,
            featurizer_version=chosen.version,
            rings_version=RINGS_VERSION,
        )
        file = cache_dir(root) / f"csv-{self.path.stem}-{chosen.name}-{key[:16]}.pt"
        columns = self.target_names
        payload = load_or_build(
            file, key, lambda: _process(self.path, smiles_column, columns, featurizer, workers)
        )
        self.skipped: list[tuple[int, str, str]] = [tuple(row) for row in payload["invalid"]]
        self.num_skipped = len(self.skipped)
        total = payload["total"]
        if self.skipped and on_invalid == "raise":
            raise InvalidRowsError(str(self.path), self.skipped, total)
        if payload["graphs"] is None:
            raise ValueError(f"{self.path}: none of its {total} rows has a valid molecule")
        if self.skipped:
            log.warning(
                "%s: skipped %d of %d rows whose molecule cannot be featurized (first: row %d, "
                "%r: %s)",
                self.path, self.num_skipped, total, *self.skipped[0],
            )  # fmt: skip
        super().__init__(payload["graphs"])
        self.featurizer = chosen.name


def _targets(table: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    """The target columns as float64 ``[rows, T]``; a non-numeric cell is an error."""
    values = np.empty((len(table), len(columns)), dtype=np.float64)
    problems = []
    for k, column in enumerate(columns):
        cells = table[column]
        missing = cells.str.strip().str.lower().isin(MISSING_MARKERS)
        numbers = pd.to_numeric(cells.where(~missing), errors="coerce")
        for row in np.flatnonzero(numbers.isna().to_numpy() & ~missing.to_numpy()):
            problems.append(f"  row {row} (line {row + 2}): column {column!r}: {cells.iloc[row]!r}")
        values[:, k] = numbers.to_numpy(dtype=np.float64)
    if problems:
        raise ValueError(
            f"{path}: {len(problems)} target cells are not numbers (leave a cell empty for a "
            "missing target):\n" + "\n".join(problems)
        )
    return values


def _process(
    path: Path, smiles_column: str, target_columns: list[str], featurizer: str, workers: int | None
) -> dict:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    absent = [c for c in [smiles_column, *target_columns] if c not in table.columns]
    if absent:
        raise ValueError(
            f"{path} has no column {', '.join(map(repr, absent))}; its columns are "
            f"{', '.join(map(repr, table.columns))}"
        )
    targets = _targets(table, target_columns, path)
    smiles = table[smiles_column].tolist()
    graphs, kept, invalid = featurize_rows(smiles, featurizer, workers)
    return {
        "graphs": GraphStore.collate(graphs, [smiles[i] for i in kept], targets[kept], kept)
        if graphs
        else None,
        "invalid": [list(row) for row in invalid],
        "total": len(table),
    }
