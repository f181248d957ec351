"""SMILES -> :class:`~cgt.data.molgraph.MolGraph`: the one featurizing loop.

A molecule's graph is its rings (:mod:`cgt.data.rings`) plus the fields of a featurizer
(:mod:`cgt.data.featurizers`). :func:`featurize_smiles` builds one graph;
:func:`featurize_arrays` is the loop every many-molecule path goes through (datasets,
prediction): it parses with one :class:`~cgt.data.smiles.SmilesParser` for the whole loop and
keeps, in place of each molecule that fails, the error that says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from cgt.data.featurizers import get_featurizer
from cgt.data.molgraph import MolGraph
from cgt.data.rings import ring_fields
from cgt.data.smiles import SmilesParser
from cgt.errors import InvalidSmilesError, MoleculeError, MoleculeTooLargeError

__all__ = [
    "MAX_ATOMS",
    "graph_arrays",
    "arrays_to_graph",
    "featurize_smiles",
    "featurize_arrays",
    "featurize_many",
    "featurize_rows",
]


#: Largest molecule featurized by default (atoms after parsing, hydrogens implicit).
#: Featurizing reads dense n×n bond matrices and the model's pair tensors grow with n²: a
#: 20,000-atom chain (a 20,000-character SMILES) would take gigabytes before any check
#: further on. A larger molecule is a :class:`~cgt.errors.MoleculeTooLargeError`.
MAX_ATOMS = 1000


def graph_arrays(
    smiles: str,
    featurizer: str = "zinc",
    parser: SmilesParser | None = None,
    max_atoms: int | None = MAX_ATOMS,
) -> dict[str, np.ndarray]:
    """The fields of :func:`featurize_smiles` as numpy arrays, without ``smiles``.

    ``num_nodes`` is a 0-d int64 array. ``parser``: an entered :class:`SmilesParser` to
    reuse (faster in loops); by default one is opened for this call. ``max_atoms``: a
    molecule with more atoms raises :class:`~cgt.errors.MoleculeTooLargeError` (``None``:
    no limit).
    """
    chosen = get_featurizer(featurizer)
    if parser is None:
        with SmilesParser() as parser:
            mol = parser.parse(smiles, max_atoms)
    else:
        mol = parser.parse(smiles, max_atoms)
    if max_atoms is not None and mol.GetNumAtoms() > max_atoms:
        raise MoleculeTooLargeError(
            smiles,
            f"{mol.GetNumAtoms()} atoms, more than max_atoms={max_atoms} (memory grows with "
            "the square of the atom count)",
        )
    fields = ring_fields(mol)
    fields.update(chosen.featurize(mol, smiles))
    fields["num_nodes"] = np.array(mol.GetNumAtoms(), dtype=np.int64)
    return fields


def arrays_to_graph(fields: dict[str, np.ndarray], smiles: str) -> MolGraph:
    """Wraps the arrays of :func:`graph_arrays` into a :class:`MolGraph` (no copies).

    The same graph as ``MolGraph(**tensors, num_nodes=..., smiles=...)``, with its storage
    filled in one step: PyG's attribute setters cost ~3 µs per field, about a tenth of
    featurizing a molecule.
    """
    graph = MolGraph()
    graph._store._mapping.update(
        {key: torch.from_numpy(value) for key, value in fields.items() if key != "num_nodes"},
        num_nodes=int(fields["num_nodes"]),
        smiles=smiles,
    )
    return graph


def featurize_smiles(smiles: str, featurizer: str = "zinc") -> MolGraph:
    """Parses a SMILES and builds its graph with the named featurizer.

    Args:
        smiles: one molecule.
        featurizer: a name registered in :data:`cgt.data.featurizers.FEATURIZERS`
            (``"zinc"`` or ``"atom"``).

    Returns:
        A :class:`MolGraph` with ``num_nodes``, ``smiles``, ``edge_index`` Long[2, E],
        ``bond_type`` Long[E], ``ring_index`` Long[2, M], ``ring_size`` Long[R],
        ``ring_aromatic`` Bool[R], ``cycle_index`` Long[2, Mc], ``cycle_size`` Long[Rc]
        (:mod:`cgt.data.rings`) and the featurizer's fields (``atom_type`` Long[n] for
        "zinc"; ``x`` Long[n, F] and ``edge_attr`` Long[E, Fb] for "atom").

    Raises:
        InvalidSmilesError: RDKit rejects the SMILES (or it is empty).
        VocabularyError: an atom or bond is outside the featurizer's vocabulary.
        ValueError: unknown featurizer name.
    """
    return arrays_to_graph(graph_arrays(smiles, featurizer), smiles)


def featurize_arrays(
    smiles: Iterable[Any], featurizer: str = "zinc", max_atoms: int | None = MAX_ATOMS
) -> list[dict[str, np.ndarray] | MoleculeError]:
    """Featurizes many inputs; an input that fails gives its error in its place.

    Args:
        smiles: the inputs; anything that is not a string (an empty cell read as NaN,
            ``None``) is a missing SMILES, reported like an invalid one.
        featurizer: a registered featurizer name.
        max_atoms: larger molecules are errors (see :data:`MAX_ATOMS`; ``None``: no limit).

    Returns:
        One entry per input, in input order: the arrays of :func:`graph_arrays`, or the
        :class:`~cgt.errors.MoleculeError` (invalid or missing SMILES, atom outside the
        vocabulary, too many atoms) that explains why that input has no graph.
    """
    get_featurizer(featurizer)
    out: list[dict[str, np.ndarray] | MoleculeError] = []
    with SmilesParser() as parser:
        for text in smiles:
            if not isinstance(text, str):
                out.append(
                    InvalidSmilesError(str(text), f"missing SMILES (got {text!r}, not a string)")
                )
                continue
            try:
                out.append(graph_arrays(text, featurizer, parser, max_atoms))
            except MoleculeError as error:
                out.append(error)
    return out


def featurize_many(
    smiles: Iterable[Any], featurizer: str = "zinc", max_atoms: int | None = MAX_ATOMS
) -> list[MolGraph | MoleculeError]:
    """Featurizes many SMILES into graphs; an input that fails gives its error in its place.

    Returns:
        One entry per input, in input order: a :class:`MolGraph`, or the
        :class:`~cgt.errors.MoleculeError` of :func:`featurize_arrays`.
    """
    texts = list(smiles)
    # Wrapped in a second pass: alternating RDKit and PyG work per molecule is ~8% slower.
    return [
        value if isinstance(value, MoleculeError) else arrays_to_graph(value, text)
        for value, text in zip(
            featurize_arrays(texts, featurizer, max_atoms), texts, strict=True
        )
    ]


def featurize_rows(
    smiles: Iterable[Any], featurizer: str, workers: int | None = 0
) -> tuple[list[dict[str, np.ndarray]], list[int], list[tuple[int, str, str]]]:
    """:func:`featurize_arrays` sorted for a dataset: the valid rows and the failed ones.

    ``workers``: featurize in that many processes, ``None`` for as many as CPUs on large
    inputs (:func:`cgt.data.parallel.featurize_arrays_parallel`; the same result).

    Returns:
        ``(graphs, kept, invalid)``: the arrays of each valid row, the positions of those
        rows, and ``(position, smiles, reason)`` for every row that failed.
    """
    from cgt.data.parallel import featurize_arrays_parallel  # it imports this module

    graphs, kept, invalid = [], [], []
    for row, value in enumerate(featurize_arrays_parallel(list(smiles), featurizer, workers)):
        if isinstance(value, MoleculeError):
            invalid.append((row, value.smiles, value.reason))
        else:
            graphs.append(value)
            kept.append(row)
    return graphs, kept, invalid
