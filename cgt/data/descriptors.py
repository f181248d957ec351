"""RDKit 2D descriptors of molecules: the labels of descriptor pretraining.

Every descriptor of RDKit's ``Descriptors._descList`` (217 in RDKit 2026.09) can be computed;
:func:`descriptor_table` returns them as a ``[molecules, descriptors]`` float array with NaN
where RDKit fails or gives a non-finite value, and :func:`select_descriptors` picks a
well-defined subset on a data set (drops constant, undefined and near-duplicate
descriptors). ``scripts/pretrain.py`` uses both on ZINC-full.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors

__all__ = ["all_descriptor_names", "descriptor_table", "select_descriptors"]


def _functions() -> dict[str, Callable[[Chem.Mol], float]]:
    return dict(Descriptors._descList)


def all_descriptor_names() -> list[str]:
    """Names of every 2D descriptor of this RDKit, in RDKit's order."""
    return list(_functions())


def descriptor_table(smiles: Sequence[str], names: Sequence[str] | None = None) -> np.ndarray:
    """The descriptors ``names`` (default: all) of every SMILES, ``Float64[n, D]``.

    A SMILES that RDKit cannot parse gives a row of NaN; a descriptor that raises or is not
    finite on a molecule gives NaN in that cell. Plain and picklable, so it runs in worker
    processes (``scripts/pretrain.py`` maps it over chunks).
    """
    functions = _functions()
    unknown = [n for n in names or () if n not in functions]
    if unknown:
        raise ValueError(f"unknown RDKit descriptors {unknown}")
    chosen = [functions[n] for n in (names or functions)]
    out = np.full((len(smiles), len(chosen)), np.nan)
    RDLogger.DisableLog("rdApp.*")
    try:
        for i, text in enumerate(smiles):
            mol = Chem.MolFromSmiles(text)
            if mol is None:
                continue
            for j, function in enumerate(chosen):
                try:
                    value = float(function(mol))
                except Exception:  # RDKit raises assorted errors on odd molecules
                    continue
                if math.isfinite(value):
                    out[i, j] = value
    finally:
        RDLogger.EnableLog("rdApp.*")
    return out


def select_descriptors(
    table: np.ndarray,
    names: Sequence[str],
    max_missing: float = 0.001,
    max_top_share: float = 0.999,
    max_correlation: float = 0.98,
) -> tuple[list[str], dict[str, str]]:
    """A well-defined subset of the descriptor columns of ``table`` ``[n, D]``.

    In RDKit's order, a descriptor is dropped when it is undefined (NaN) on more than
    ``max_missing`` of the molecules, constant (one value) on the rest, nearly constant (one
    value on more than ``max_top_share`` of them: a fragment count that almost no molecule
    has teaches nothing), or, on the molecules where both are defined, has a Pearson
    correlation of magnitude above ``max_correlation`` with a descriptor kept before it.

    Returns:
        The kept names, and the reason each dropped name was dropped.
    """
    if table.shape[1] != len(names):
        raise ValueError(f"table has {table.shape[1]} columns for {len(names)} names")
    dropped: dict[str, str] = {}
    candidates = []
    for j, name in enumerate(names):
        column = table[:, j]
        missing = float(np.isnan(column).mean())
        if missing > max_missing:
            dropped[name] = f"undefined on {missing:.2%} of the molecules"
        elif np.nanmin(column) == np.nanmax(column):
            dropped[name] = f"constant ({np.nanmin(column):g})"
        elif (share := _top_share(column)) > max_top_share:
            dropped[name] = f"nearly constant (one value on {share:.3%} of the molecules)"
        else:
            candidates.append(j)
    rows = ~np.isnan(table[:, candidates]).any(axis=1)
    values = table[rows][:, candidates]
    z = (values - values.mean(0)) / values.std(0)
    correlation = (z.T @ z) / len(z)
    kept: list[int] = []
    for k, j in enumerate(candidates):
        twins = [i for i in kept if abs(correlation[k, i]) > max_correlation]
        if twins:
            other = candidates[twins[0]]
            dropped[names[j]] = (
                f"near-duplicate of {names[other]} (|r| = {abs(correlation[k, twins[0]]):.3f})"
            )
        else:
            kept.append(k)
    return [names[candidates[k]] for k in kept], dropped


def _top_share(column: np.ndarray) -> float:
    """The share of the defined values of ``column`` taken by its most frequent value."""
    _, counts = np.unique(column[~np.isnan(column)], return_counts=True)
    return float(counts.max() / counts.sum())
