"""Molecules in, packed graph batches out.

- :func:`featurize_smiles` / :func:`featurize_many`: SMILES -> :class:`MolGraph`;
  featurizers by name (:func:`get_featurizer`: ``"zinc"``, ``"atom"``).
- :func:`pair_features`: per-pair bond kind, random walks and rings of a packed batch.
- :class:`ZINC`, :class:`CSVDataset`: cached datasets of graphs with targets;
  :class:`ZINCDataModule`, :class:`CSVDataModule`: Lightning batches of them.
"""

from cgt.data.csv_dataset import CSVDataset
from cgt.data.datamodule import CSVDataModule, ZINCDataModule
from cgt.data.encodings import PairFeatures, pair_features, random_walk_probabilities
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
from cgt.data.graph_store import GraphStore
from cgt.data.molgraph import MolGraph
from cgt.data.zinc import ZINC

__all__ = [
    "ATOM_FEATURE_NAMES",
    "ATOM_FEATURE_SIZES",
    "BOND_FEATURE_NAMES",
    "BOND_FEATURE_SIZES",
    "ELEMENTS",
    "FEATURIZERS",
    "ZINC",
    "ZINC_ATOM_TYPES",
    "ZINCDataModule",
    "CSVDataset",
    "CSVDataModule",
    "GraphStore",
    "Featurizer",
    "MolGraph",
    "PairFeatures",
    "SmilesParser",
    "featurize_many",
    "featurize_smiles",
    "get_featurizer",
    "pair_features",
    "parse_smiles",
    "random_walk_probabilities",
]
