"""Molecules in, packed graph batches out.

- :func:`featurize_smiles` / :func:`featurize_many`: SMILES -> :class:`MolGraph`;
  featurizers by name (:func:`get_featurizer`: ``"zinc"``, ``"atom"``).
- :func:`pair_features`: per-pair bond kind, random walks and rings of a packed batch.
- :class:`ZINC`, :class:`CSVDataset`: cached datasets of graphs with targets;
  :class:`ZINCDataModule`, :class:`CSVDataModule`: Lightning batches of them.

Names are imported on first use, so the RDKit-free parts (:class:`MolGraph`,
:class:`GraphStore`, :func:`pair_features`, :func:`random_walk_probabilities`) work on a
machine without RDKit, e.g. to train from processed graphs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> module that defines it.
_EXPORTS = {
    "ATOM_FEATURE_NAMES": "cgt.data.featurizers",
    "ATOM_FEATURE_SIZES": "cgt.data.featurizers",
    "BOND_FEATURE_NAMES": "cgt.data.featurizers",
    "BOND_FEATURE_SIZES": "cgt.data.featurizers",
    "ELEMENTS": "cgt.data.featurizers",
    "FEATURIZERS": "cgt.data.featurizers",
    "ZINC_ATOM_TYPES": "cgt.data.featurizers",
    "Featurizer": "cgt.data.featurizers",
    "ModelInputs": "cgt.data.featurizers",
    "get_featurizer": "cgt.data.featurizers",
    "SmilesParser": "cgt.data.smiles",
    "parse_smiles": "cgt.data.smiles",
    "featurize_many": "cgt.data.smiles_to_graph",
    "featurize_smiles": "cgt.data.smiles_to_graph",
    "MolGraph": "cgt.data.molgraph",
    "PairFeatures": "cgt.data.pairs",
    "pair_features": "cgt.data.pairs",
    "random_walk_probabilities": "cgt.data.pairs",
    "GraphStore": "cgt.data.graph_store",
    "ZINC": "cgt.data.zinc",
    "CSVDataset": "cgt.data.csv_dataset",
    "ZINCDataModule": "cgt.data.datamodule",
    "CSVDataModule": "cgt.data.datamodule",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from cgt.data.csv_dataset import CSVDataset
    from cgt.data.datamodule import CSVDataModule, ZINCDataModule
    from cgt.data.featurizers import (
        ATOM_FEATURE_NAMES,
        ATOM_FEATURE_SIZES,
        BOND_FEATURE_NAMES,
        BOND_FEATURE_SIZES,
        ELEMENTS,
        FEATURIZERS,
        ZINC_ATOM_TYPES,
        Featurizer,
        ModelInputs,
        get_featurizer,
    )
    from cgt.data.graph_store import GraphStore
    from cgt.data.molgraph import MolGraph
    from cgt.data.pairs import PairFeatures, pair_features, random_walk_probabilities
    from cgt.data.smiles import SmilesParser, parse_smiles
    from cgt.data.smiles_to_graph import featurize_many, featurize_smiles
    from cgt.data.zinc import ZINC


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cgt.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
