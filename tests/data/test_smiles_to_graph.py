"""SMILES to graphs: the single and many-molecule entry points, and the fast path's
equivalence with RDKit's default parse."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Batch

from cgt.data import (
    ATOM_FEATURE_SIZES,
    ELEMENTS,
    ZINC_ATOM_TYPES,
    MolGraph,
    featurize_many,
    featurize_smiles,
)
from cgt.data.smiles_to_graph import arrays_to_graph, featurize_rows, graph_arrays
from cgt.errors import MoleculeError, VocabularyError


def test_featurize_rows_collects_every_failure() -> None:
    graphs, kept, invalid = featurize_rows(["CCO", "C1CC", None, "[Se]", "CC"], "zinc")
    assert kept == [0, 4] and len(graphs) == 2
    assert [(row, smiles) for row, smiles, _ in invalid] == [(1, "C1CC"), (2, "None"), (3, "[Se]")]
    assert "unclosed ring" in invalid[0][2] and invalid[1][2].startswith("missing SMILES")
    assert "atom 0 (Se" in invalid[2][2]


def test_featurize_many_reports_missing_smiles_in_place() -> None:
    results = featurize_many(["CCO", None, float("nan")], "zinc")
    assert results[0].num_nodes == 3
    assert [type(r).__name__ for r in results[1:]] == ["InvalidSmilesError"] * 2
    assert "missing SMILES (got None" in results[1].reason
    assert "missing SMILES (got nan" in results[2].reason


def test_featurize_many_keeps_order_and_errors_in_place() -> None:
    results = featurize_many(["CCO", "C1CC", "", "[Se]", "c1ccccc1"], "zinc")
    assert [type(r).__name__ for r in results] == [
        "MolGraph", "InvalidSmilesError", "InvalidSmilesError", "VocabularyError", "MolGraph",
    ]  # fmt: skip
    assert all(isinstance(r, MoleculeError) for r in results[1:4])
    assert results[1].smiles == "C1CC" and "unclosed ring" in results[1].reason
    assert results[4].smiles == "c1ccccc1" and results[4].num_nodes == 6
    single = featurize_smiles("CCO")
    for key in ("atom_type", "edge_index", "bond_type", "ring_index"):
        assert torch.equal(results[0][key], single[key])


# ------------------------------------------------- equivalence with RDKit's default parse


def plain_cycles(mol: Chem.Mol) -> dict[str, np.ndarray]:
    """Chordless cycles of at most 18 atoms by networkx on the whole bond graph (no shortcut
    for molecules whose rings share no atom, no restriction to ring bonds)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(mol.GetNumAtoms()))
    graph.add_edges_from((b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds())
    cycles = set()
    for cycle in nx.chordless_cycles(graph, length_bound=18):
        start = cycle.index(min(cycle))
        cycle = cycle[start:] + cycle[:start]
        if cycle[-1] < cycle[1]:
            cycle = [cycle[0], *reversed(cycle[1:])]
        cycles.add(tuple(cycle))
    cycles = sorted(cycles)
    return {
        "cycle_index": np.array(
            [[a for c in cycles for a in c], [k for k, c in enumerate(cycles) for _ in c]],
            dtype=np.int64,
        ).reshape(2, -1),
        "cycle_size": np.array([len(c) for c in cycles], dtype=np.int64),
    }


def plain_arrays(smiles: str, featurizer: str) -> dict[str, np.ndarray]:
    """The featurizer fields by the plainest recipe: ``Chem.MolFromSmiles`` with its
    defaults, one atom and one bond at a time (what the fast path must reproduce).
    A ValueError (from ``.index``) for an atom outside the vocabulary."""
    mol = Chem.MolFromSmiles(smiles)
    rings = mol.GetRingInfo().AtomRings()
    aromatic = Chem.BondType.AROMATIC
    atoms = [a for ring in rings for a in ring]
    ring_ids = [r for r, ring in enumerate(rings) for _ in ring]
    fields = {
        "ring_index": np.array([atoms, ring_ids], dtype=np.int64).reshape(2, -1),
        "ring_size": np.array([len(ring) for ring in rings], dtype=np.int64),
        "ring_aromatic": np.array(
            [
                all(mol.GetBondBetweenAtoms(ring[k - 1], ring[k]).GetBondType() == aromatic
                    for k in range(len(ring)))
                for ring in rings
            ],
            dtype=bool,
        ),
        "num_nodes": np.array(mol.GetNumAtoms(), dtype=np.int64),
    }  # fmt: skip
    fields.update(plain_cycles(mol))
    if featurizer == "zinc":
        Chem.Kekulize(mol, clearAromaticFlags=True)
        labels = []
        for atom in mol.GetAtoms():
            hydrogens, charge = atom.GetNumExplicitHs(), atom.GetFormalCharge()
            labels.append(
                atom.GetSymbol()
                + (f" H{hydrogens}" if hydrogens else "")
                + (" +" if charge > 0 else " -" if charge < 0 else "")
            )
        fields["atom_type"] = np.array([ZINC_ATOM_TYPES.index(x) for x in labels], dtype=np.int64)
    else:
        fields["x"] = np.array(
            [
                (ELEMENTS.index(a.GetSymbol()), a.GetDegree(), a.GetFormalCharge() + 2,
                 a.GetTotalNumHs(), a.GetIsAromatic(), int(a.GetHybridization()), a.IsInRing())
                for a in mol.GetAtoms()
            ],
            dtype=np.int64,
        ).reshape(-1, len(ATOM_FEATURE_SIZES))  # fmt: skip
    order = {1.0: 1, 2.0: 2, 3.0: 3, 1.5: 4}
    edges = []
    for bond in mol.GetBonds():
        begin, end = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        attr = (order[bond.GetBondTypeAsDouble()], bond.GetIsConjugated(), bond.IsInRing())
        edges += [(begin, end, *attr), (end, begin, *attr)]
    table = np.array(sorted(edges), dtype=np.int64).reshape(-1, 5)
    fields["edge_index"] = table[:, :2].T.copy()
    fields["bond_type"] = table[:, 2].copy()
    if featurizer == "atom":
        fields["edge_attr"] = table[:, 2:] - np.array([1, 0, 0])
    return fields


TRICKY = [
    "c1cc[nH]c1", "C[C@H](N)O", "C[NH+](C)C", "C[NH3+]", "CC(=O)[O-]", "C[n+]1ccccc1",
    "C[N-]S(C)(=O)=O", "[CH2-]C#N", "O=[PH](O)c1ccccc1", "FC(Cl)(Br)I", "c1cc[nH+]cc1",
    "C1=CC=CC=C1C(=O)O",  # kekulé input: re-kekulized after aromaticity perception
    "C1=CC=C2C=CC=CC2=C1", "O=c1cccc[nH]1", "c1ccc2c(c1)-c1ccccc1-2", "C1C2CC3CC1CC(C2)C3",
    "C1CCC2(CC1)CCCC2", "c1ccc2[nH]ccc2c1", "c1ccc2cc3ccccc3cc2c1", "C=C1C=CC=C1",
    "[H]C([H])(O)C", "[H]c1ccccc1", "[H]n1cccc1", "[H]C(C)(C)C", "[2H]C(Cl)Cl", "[13CH3]O",
    "C[S@@+]([O-])c1ccccc1", "F/C=C/F", "CC.O", "C", "O=C1C=CC(=O)C=C1", "C1CC=CC=CC=C1",
    "[Na+].[Cl-]", "C[Si](C)(C)C", "B(O)(O)c1ccccc1", "[Fe](C)(C)(C)(C)(C)C", "[CH3+]",
    "[N+]#[C-]", "CC[Xe]",
]  # fmt: skip
"""Charges, bracket H, explicit hydrogen atoms, kekulé input, non-aromatic rings written in
lowercase, fused/bridged/spiro rings, stereo, ions and atoms outside the ZINC vocabulary."""


def zinc_sample(count: int) -> list[str]:
    """Every ``12000 // count``-th molecule of the shipped ZINC 12k file."""
    import pandas as pd

    from cgt.data.zinc import zinc_source

    smiles = pd.read_csv(zinc_source(), usecols=["smiles"])["smiles"].tolist()
    return smiles[:: len(smiles) // count]


@pytest.mark.parametrize("featurizer", ["zinc", "atom"])
def test_fast_path_equals_the_plain_recipe(featurizer: str) -> None:
    """Parsing without RDKit's stereo perception and the column-wise reads change nothing:
    every field (atom types, edges, kekulé bond types, rings) equals the plain recipe."""
    rejected = 0
    for smiles in TRICKY + zinc_sample(200):
        try:
            plain = plain_arrays(smiles, featurizer)
        except ValueError:
            rejected += 1
            with pytest.raises(VocabularyError):
                graph_arrays(smiles, featurizer)
            continue
        fast = graph_arrays(smiles, featurizer)
        assert fast.keys() == plain.keys(), smiles
        for key, value in plain.items():
            assert fast[key].dtype == value.dtype, (smiles, key)
            assert np.array_equal(fast[key], value), (smiles, key)
    assert 0 < rejected < 15  # both outcomes are exercised


@pytest.mark.parametrize("featurizer", ["zinc", "atom"])
def test_arrays_to_graph_equals_the_public_constructor(featurizer: str) -> None:
    """arrays_to_graph fills PyG's storage directly; the graphs and their batches must be
    those of the public ``MolGraph(**fields)``."""
    smiles = ["c1ccc2c(c1)-c1ccccc1-2", "CCO", "[Na+].[Cl-]" if featurizer == "atom" else "C"]
    fast, public = [], []
    for s in smiles:
        fields = graph_arrays(s, featurizer)
        fast.append(arrays_to_graph(fields, s))
        tensors = {k: torch.from_numpy(v) for k, v in fields.items() if k != "num_nodes"}
        public.append(MolGraph(**tensors, num_nodes=int(fields["num_nodes"]), smiles=s))

    def same(a: object, b: object) -> bool:
        return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b

    batches = [Batch.from_data_list(graphs) for graphs in (fast, public)]
    for a, b in [*zip(fast, public, strict=True), batches]:
        assert sorted(a.keys()) == sorted(b.keys()) and a.num_nodes == b.num_nodes
        assert all(same(a[key], b[key]) for key in b.keys())
    assert batches[0].num_graphs == len(smiles)


def test_molecules_above_max_atoms_are_refused_before_featurizing() -> None:
    from cgt.data.smiles_to_graph import MAX_ATOMS, featurize_rows
    from cgt.errors import MoleculeTooLargeError

    assert MAX_ATOMS == 1000
    with pytest.raises(MoleculeTooLargeError, match="1001 atoms, more than max_atoms=1000"):
        graph_arrays("C" * 1001)
    assert graph_arrays("C" * 1001, max_atoms=None)["num_nodes"] == 1001
    _, kept, invalid = featurize_rows(["CCO", "C" * 20000, "CC"], "zinc")
    assert kept == [0, 2] and invalid[0][0] == 1 and "20000 characters" in invalid[0][2]
