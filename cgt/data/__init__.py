"""Molecules in, packed graph batches out.

- :func:`featurize_smiles` / :func:`featurize_many`: SMILES -> :class:`MolGraph`;
  featurizers by name (:func:`get_featurizer`: ``"zinc"``, ``"atom"``).
"""

from cgt.data.featurize import SmilesParser, featurize_many, featurize_smiles, parse_smiles
from cgt.data.featurizers import (
    ATOM_FEATURE_NAMES,
    ATOM_FEATURE_SIZES,
    BOND_FEATURE_NAMES,
    BOND_FEATURE_SIZES,
    ELEMENTS,
    FEATURIZERS,
    ZINC_ATOM_TYPES,
    Featurizer,
    get_featurizer,
)
from cgt.data.molgraph import MolGraph

__all__ = [
    "ATOM_FEATURE_NAMES",
    "ATOM_FEATURE_SIZES",
    "BOND_FEATURE_NAMES",
    "BOND_FEATURE_SIZES",
    "ELEMENTS",
    "FEATURIZERS",
    "ZINC_ATOM_TYPES",
    "Featurizer",
    "MolGraph",
    "SmilesParser",
    "featurize_many",
    "featurize_smiles",
    "get_featurizer",
    "parse_smiles",
]
