"""Train/val/test splits of a molecule dataset: random, scaffold (Bemis–Murcko), or a column."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

__all__ = [
    "SPLIT_NAMES",
    "SPLIT_METHODS",
    "split_counts",
    "random_split",
    "scaffold_split",
    "column_split",
    "validation_from_train",
]

#: The parts of a data set, in this order everywhere.
SPLIT_NAMES = ("train", "val", "test")

#: How a data set is cut into them: at random, by Bemis–Murcko scaffold, or by a column.
SPLIT_METHODS = ("random", "scaffold", "column")


def split_counts(total: int, sizes: Sequence[float]) -> tuple[int, int, int]:
    """Molecules per split for fractions ``sizes`` (train gets the rounding remainder)."""
    if len(sizes) != 3 or any(s < 0 for s in sizes) or not np.isclose(sum(sizes), 1.0):
        raise ValueError(f"split_sizes must be 3 non-negative fractions summing to 1, got {sizes}")
    val, test = round(sizes[1] * total), round(sizes[2] * total)
    return total - val - test, val, test


def random_split(total: int, sizes: Sequence[float], seed: int) -> list[np.ndarray]:
    """A seeded random permutation cut at the fractions ``sizes``."""
    train, val, _ = split_counts(total, sizes)
    order = np.random.default_rng(seed).permutation(total)
    return [np.sort(part) for part in np.split(order, [train, train + val])]


def scaffold(smiles: str) -> str:
    """The Bemis–Murcko scaffold (SMILES, no stereo) of a molecule; ``""`` if acyclic."""
    mol = Chem.MolFromSmiles(smiles)
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_split(smiles: Sequence[str], sizes: Sequence[float]) -> list[np.ndarray]:
    """Whole scaffold groups per split, deterministically.

    Groups go, largest first (ties by scaffold SMILES), to train while it stays within its
    share, else to val while it stays within train + val, else to test. A scaffold is
    therefore never shared between splits; split sizes are approximate.
    """
    train_size, val_size, _ = split_counts(len(smiles), sizes)
    groups: dict[str, list[int]] = {}
    for index, text in enumerate(smiles):
        groups.setdefault(scaffold(text), []).append(index)
    parts: list[list[int]] = [[], [], []]
    for _, members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        if len(parts[0]) + len(members) <= train_size:
            parts[0] += members
        elif len(parts[0]) + len(parts[1]) + len(members) <= train_size + val_size:
            parts[1] += members
        else:
            parts[2] += members
    return [np.sort(np.asarray(part, dtype=np.int64)) for part in parts]


def column_split(values: Sequence[str], rows: Sequence[int], source: str) -> list[np.ndarray]:
    """Splits named per molecule (``train``/``val``/``test``); any other value is an error.

    Args:
        values: the split value of each molecule.
        rows: the file row of each molecule (for the error message).
        source: the file (for the error message).
    """
    values = [str(v).strip().lower() for v in values]
    bad = [(row, v) for row, v in zip(rows, values, strict=True) if v not in SPLIT_NAMES]
    if bad:
        listing = "\n".join(f"  row {row} (line {row + 2}): {v!r}" for row, v in bad)
        raise ValueError(
            f"{source}: {len(bad)} split values are not one of {', '.join(SPLIT_NAMES)}:\n"
            + listing
        )
    array = np.asarray(values)
    return [np.flatnonzero(array == name) for name in SPLIT_NAMES]


def validation_from_train(
    parts: Sequence[np.ndarray], fraction: float, seed: int, source: str
) -> list[np.ndarray]:
    """Moves a seeded random ``fraction`` of the train part to an empty validation part.

    For files whose split column names only ``train`` and ``test`` (a published split):
    the validation molecules are drawn from train only, so test stays untouched.

    Args:
        parts: train, val, test positions (val must be empty).
        fraction: share of the train molecules that become validation, in (0, 1).
        seed: seed of the draw.
        source: the file (for the error message).
    """
    train, val, test = parts
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation fraction must be in (0, 1), got {fraction}")
    if len(val):
        raise ValueError(
            f"{source}: its split column already names {len(val)} validation rows; "
            "leave out the validation fraction or the 'val' rows"
        )
    count = round(fraction * len(train))
    chosen = np.random.default_rng(seed).permutation(len(train))[:count]
    moved = np.zeros(len(train), dtype=bool)
    moved[chosen] = True
    return [np.sort(train[~moved]), np.sort(train[moved]), test]


def subsample_train(
    parts: Sequence[np.ndarray], size: int, seed: int, source: str
) -> list[np.ndarray]:
    """Keeps a seeded random ``size`` molecules of the train part; val and test unchanged.

    For learning curves and small-data studies: the draw does not depend on how the
    validation part was made, and a larger ``size`` with the same seed keeps every molecule
    of a smaller one (the draw is a prefix of one permutation).
    """
    train, val, test = parts
    if not 1 <= size <= len(train):
        raise ValueError(
            f"{source}: train_size must be between 1 and the {len(train)} train molecules, "
            f"got {size}"
        )
    chosen = np.random.default_rng([seed, 1]).permutation(len(train))[:size]
    return [np.sort(train[chosen]), val, test]
