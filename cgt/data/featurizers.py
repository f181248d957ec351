"""Featurizers: how the atoms and bonds of an RDKit molecule become integer features.

A featurizer is chosen by name (:func:`get_featurizer`). Each one has a ``version``
that is part of every cache key, so changing what a featurizer computes must bump it.

- ``"zinc"``: PyTorch Geometric's ZINC graphs exactly. ``atom_type`` indexes the
  28 types of :data:`ZINC_ATOM_TYPES` (element, explicit H count, charge sign, read
  after ``Chem.Kekulize(mol, clearAromaticFlags=True)``); bonds are kekulé (1, 2, 3).
- ``"atom"``: a general featurizer for any organic molecule. ``x`` has one categorical
  column per entry of :data:`ATOM_FEATURE_NAMES` (sizes :data:`ATOM_FEATURE_SIZES`),
  ``edge_attr`` one per :data:`BOND_FEATURE_NAMES` (sizes :data:`BOND_FEATURE_SIZES`);
  bond types keep aromatic bonds (4).

Anything outside a featurizer's vocabulary raises :class:`cgt.errors.VocabularyError`
naming the atom or bond; nothing is mapped to a fallback category.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from rdkit import Chem

from cgt.errors import VocabularyError

__all__ = [
    "ModelInputs",
    "Featurizer",
    "ZincFeaturizer",
    "AtomFeaturizer",
    "FEATURIZERS",
    "get_featurizer",
    "ZINC_ATOM_TYPES",
    "ELEMENTS",
    "ATOM_FEATURE_NAMES",
    "ATOM_FEATURE_SIZES",
    "BOND_FEATURE_NAMES",
    "BOND_FEATURE_SIZES",
]


@dataclass(frozen=True)
class ModelInputs:
    """What a model reads from the graphs of a featurizer.

    Attributes:
        node_field: the graph field of categorical atom codes: ``Long[n]`` (one column) or
            ``Long[n, F]``.
        node_feature_sizes: categories of each of its columns.
        bond_feature_sizes: categories of each column of ``edge_attr`` ``Long[E, Fb]``, or
            ``None`` when bonds carry no features beyond their type.
    """

    node_field: str
    node_feature_sizes: tuple[int, ...]
    bond_feature_sizes: tuple[int, ...] | None = None

    def as_config(self) -> dict[str, Any]:
        """The keyword arguments of :class:`cgt.model.CGT` that describe its inputs."""
        bonds = self.bond_feature_sizes
        return {
            "node_field": self.node_field,
            "node_feature_sizes": list(self.node_feature_sizes),
            "bond_feature_sizes": None if bonds is None else list(bonds),
        }


class Featurizer(ABC):
    """Turns a sanitized RDKit molecule into numpy node and edge fields.

    Subclasses set ``name``, ``version``, ``vocabulary`` (a JSON-serialisable
    description that a checkpoint can store) and ``model_inputs`` (what a model built for
    these graphs reads), so that a new featurizer needs no change to the model.
    """

    name: str
    version: int
    model_inputs: ModelInputs

    @property
    @abstractmethod
    def vocabulary(self) -> dict:
        """What the integer features mean (stored in checkpoints)."""

    @abstractmethod
    def featurize(self, mol: Chem.Mol, smiles: str) -> dict[str, np.ndarray]:
        """Node and edge fields of ``mol`` (may modify ``mol``, e.g. kekulize it).

        Returns a dict with at least ``edge_index`` int64 ``[2, E]`` (both directions,
        sorted by source then target) and ``bond_type`` int64 ``[E]``.
        """


def _atoms(mol: Chem.Mol) -> Iterator[Chem.Atom]:
    """The atoms of ``mol`` in index order (faster than ``mol.GetAtoms()``'s wrapper)."""
    return map(mol.GetAtomWithIdx, range(mol.GetNumAtoms()))


def _describe(atom: Chem.Atom) -> str:
    charge = atom.GetFormalCharge()
    return f"{atom.GetSymbol()}, charge {charge:+d}, {atom.GetTotalNumHs()} H"


def _edges(adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges of a bond-order adjacency matrix, row-major, and their orders."""
    edge_index = np.array(np.nonzero(adjacency), dtype=np.int64)
    return edge_index, adjacency[edge_index[0], edge_index[1]]


# --------------------------------------------------------------------------- zinc

ZINC_ATOM_TYPES: tuple[str, ...] = (
    "C", "O", "N", "F", "C H1", "S", "Cl", "O -", "N H1 +", "Br",
    "N H3 +", "N H2 +", "N +", "N -", "S -", "I", "P", "O H1 +",
    "N H1 -", "O +", "S +", "P H1", "P H2", "C H2 -", "P +",
    "S H1 +", "C H1 -", "P H1 +",
)  # fmt: skip
"""The 28 atom types of PyTorch Geometric's ZINC, in its index order."""


def _zinc_key(label: str) -> tuple[int, int, int]:
    """(atomic number, explicit H, charge sign) of a label of :data:`ZINC_ATOM_TYPES`."""
    parts = label.split()
    hydrogens = next((int(p[1:]) for p in parts[1:] if p.startswith("H")), 0)
    sign = {"+": 1, "-": -1}.get(parts[-1], 0)
    return Chem.GetPeriodicTable().GetAtomicNumber(parts[0]), hydrogens, sign


class _ZincTypes(dict):
    """(atomic number, explicit H, formal charge) -> ZINC type, -1 outside the vocabulary.

    Filled on first use of each key, so that looking an atom up is one C-level dict access.
    """

    def __init__(self) -> None:
        super().__init__()
        self._by_sign = {_zinc_key(label): i for i, label in enumerate(ZINC_ATOM_TYPES)}

    def __missing__(self, key: tuple[int, int, int]) -> int:
        element, hydrogens, charge = key
        self[key] = self._by_sign.get((element, hydrogens, (charge > 0) - (charge < 0)), -1)
        return self[key]


class ZincFeaturizer(Featurizer):
    """PyTorch Geometric's ZINC graphs: ``atom_type`` Long[n] in 0..27, kekulé bonds."""

    name = "zinc"
    version = 2  # 2: dative and zero-order bonds are errors, not single bonds
    model_inputs = ModelInputs("atom_type", (len(ZINC_ATOM_TYPES),))

    def __init__(self) -> None:
        self._types = _ZincTypes()

    @property
    def vocabulary(self) -> dict:
        return {"atom_types": list(ZINC_ATOM_TYPES), "bond_types": [1, 2, 3]}

    def featurize(self, mol: Chem.Mol, smiles: str) -> dict[str, np.ndarray]:
        Chem.Kekulize(mol, clearAromaticFlags=True)
        atoms = list(_atoms(mol))
        keys = zip(
            map(Chem.Atom.GetAtomicNum, atoms),
            map(Chem.Atom.GetNumExplicitHs, atoms),
            map(Chem.Atom.GetFormalCharge, atoms),
            strict=True,
        )
        atom_type = list(map(self._types.__getitem__, keys))
        if -1 in atom_type:
            index = atom_type.index(-1)
            atom = atoms[index]
            raise VocabularyError(
                smiles, "atom", index,
                f"{atom.GetSymbol()}, charge {atom.GetFormalCharge():+d}, "
                f"{atom.GetNumExplicitHs()} explicit H",
                self.name, "ZINC has 28 atom types (element, explicit H, charge sign)",
            )  # fmt: skip
        edge_index, order = _edges(Chem.GetAdjacencyMatrix(mol, useBO=True, force=True))
        bond_type = order.astype(np.int64)
        # Any other bond type shows as an order above 3, a fraction, or (dative, zero-order)
        # a bond missing from one or both directions of the adjacency matrix.
        if bond_type.size != 2 * mol.GetNumBonds() or (
            bond_type.size and (bond_type.max() > 3 or (bond_type != order).any())
        ):
            bond = _first_bond_not(mol, (Chem.BondType.SINGLE, Chem.BondType.DOUBLE,
                                         Chem.BondType.TRIPLE))  # fmt: skip
            raise VocabularyError(
                smiles, "bond", bond.GetIdx(), str(bond.GetBondType()), self.name,
                "ZINC bonds are kekulé single, double or triple",
            )  # fmt: skip
        return {
            "atom_type": np.asarray(atom_type, dtype=np.int64),
            "edge_index": edge_index,
            "bond_type": bond_type,
        }


def _first_bond_not(mol: Chem.Mol, allowed: tuple) -> Chem.Bond:
    return next(b for b in mol.GetBonds() if b.GetBondType() not in allowed)


# --------------------------------------------------------------------------- atom

ELEMENTS: tuple[str, ...] = (
    "H", "Li", "B", "C", "N", "O", "F", "Na", "Mg", "Si", "P", "S", "Cl", "K", "Ca",
    "Fe", "Zn", "As", "Se", "Br", "Sn", "I",
)  # fmt: skip
"""Elements the ``"atom"`` featurizer knows: organic elements and common counter-ions."""

ATOM_FEATURE_NAMES: tuple[str, ...] = (
    "element", "degree", "formal_charge", "total_hs", "aromatic", "hybridization", "in_ring",
)  # fmt: skip
_MAX_DEGREE, _MAX_CHARGE, _MAX_HS = 6, 2, 4
_HYBRIDIZATIONS = len(Chem.HybridizationType.values)
ATOM_FEATURE_SIZES: tuple[int, ...] = (
    len(ELEMENTS), _MAX_DEGREE + 1, 2 * _MAX_CHARGE + 1, _MAX_HS + 1, 2, _HYBRIDIZATIONS, 2,
)  # fmt: skip
"""Number of categories of each column of ``x`` (``"atom"`` featurizer).

Columns: element index in :data:`ELEMENTS`; degree 0..6; formal charge -2..+2 (stored
+2); total H count 0..4; aromatic; RDKit hybridization enum value; in a ring.
"""

BOND_FEATURE_NAMES: tuple[str, ...] = ("order", "conjugated", "in_ring")
BOND_FEATURE_SIZES: tuple[int, ...] = (4, 2, 2)
"""Categories of each column of ``edge_attr``: order (single, double, triple, aromatic as
0..3, i.e. ``bond_type - 1``), conjugated, in a ring."""

_ELEMENT_INDEX = np.full(119, -1, dtype=np.int64)
for _i, _symbol in enumerate(ELEMENTS):
    _ELEMENT_INDEX[Chem.GetPeriodicTable().GetAtomicNumber(_symbol)] = _i
_BOND_ORDER = {
    Chem.BondType.SINGLE: 1, Chem.BondType.DOUBLE: 2, Chem.BondType.TRIPLE: 3,
    Chem.BondType.AROMATIC: 4,
}  # fmt: skip


class AtomFeaturizer(Featurizer):
    """General atom/bond featurizer: ``x`` Long[n, 7], ``edge_attr`` Long[E, 3]."""

    name = "atom"
    version = 1
    model_inputs = ModelInputs("x", ATOM_FEATURE_SIZES, BOND_FEATURE_SIZES)

    @property
    def vocabulary(self) -> dict:
        return {
            "elements": list(ELEMENTS),
            "atom_features": dict(zip(ATOM_FEATURE_NAMES, ATOM_FEATURE_SIZES, strict=True)),
            "bond_features": dict(zip(BOND_FEATURE_NAMES, BOND_FEATURE_SIZES, strict=True)),
        }

    def featurize(self, mol: Chem.Mol, smiles: str) -> dict[str, np.ndarray]:
        # Column by column: one C-level map per property instead of a Python loop per atom.
        atoms = list(_atoms(mol))
        columns = [list(map(read, atoms)) for read in _ATOM_READERS]
        raw = np.array(columns, dtype=np.int64).reshape(len(ATOM_FEATURE_NAMES), -1)
        x = raw.T.copy()
        x[:, 0] = _ELEMENT_INDEX[raw[0]]
        x[:, 2] += _MAX_CHARGE
        bad = (x < 0) | (x >= np.asarray(ATOM_FEATURE_SIZES))
        if bad.any():
            index, column = (int(v) for v in np.argwhere(bad)[0])
            raise VocabularyError(
                smiles, "atom", index, _describe(atoms[index]), self.name,
                _ATOM_LIMITS[ATOM_FEATURE_NAMES[column]],
            )  # fmt: skip

        bonds = list(map(mol.GetBondWithIdx, range(mol.GetNumBonds())))
        orders = list(map(_BOND_ORDER.get, map(Chem.Bond.GetBondType, bonds)))
        if None in orders:
            bond = bonds[orders.index(None)]
            raise VocabularyError(
                smiles, "bond", bond.GetIdx(), str(bond.GetBondType()), self.name,
                "bond orders are single, double, triple or aromatic",
            )  # fmt: skip
        # Rows: begin atom, end atom, order, conjugated, in ring.
        table = np.array(
            [list(map(read, bonds)) for read in _BOND_READERS[:2]]
            + [orders]
            + [list(map(read, bonds)) for read in _BOND_READERS[2:]],
            dtype=np.int64,
        ).reshape(5, -1)
        src = np.concatenate((table[0], table[1]))
        dst = np.concatenate((table[1], table[0]))
        order = np.argsort(src * max(len(x), 1) + dst, kind="stable")
        attr = np.concatenate((table[2:], table[2:]), axis=1).T[order]
        bond_type = attr[:, 0].copy()
        attr[:, 0] -= 1
        return {
            "x": x,
            "edge_index": np.stack((src[order], dst[order])),
            "bond_type": bond_type,
            "edge_attr": attr,
        }


# What the columns of ``x`` (ATOM_FEATURE_NAMES order) and the bond table are read from.
_ATOM_READERS = (
    Chem.Atom.GetAtomicNum, Chem.Atom.GetDegree, Chem.Atom.GetFormalCharge,
    Chem.Atom.GetTotalNumHs, Chem.Atom.GetIsAromatic, Chem.Atom.GetHybridization,
    Chem.Atom.IsInRing,
)  # fmt: skip
_BOND_READERS = (
    Chem.Bond.GetBeginAtomIdx, Chem.Bond.GetEndAtomIdx, Chem.Bond.GetIsConjugated,
    Chem.Bond.IsInRing,
)  # fmt: skip

_ATOM_LIMITS = {
    "element": f"known elements are {', '.join(ELEMENTS)}",
    "degree": f"degree must be at most {_MAX_DEGREE}",
    "formal_charge": f"formal charge must be within ±{_MAX_CHARGE}",
    "total_hs": f"at most {_MAX_HS} hydrogens",
    "hybridization": "unknown hybridization",
}

FEATURIZERS: dict[str, Featurizer] = {f.name: f for f in (ZincFeaturizer(), AtomFeaturizer())}
"""The registry: featurizer name -> instance."""


def get_featurizer(name: str) -> Featurizer:
    """The featurizer registered under ``name``; a clear error for an unknown name."""
    try:
        return FEATURIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown featurizer {name!r}; available: {', '.join(sorted(FEATURIZERS))}"
        ) from None
