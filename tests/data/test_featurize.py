"""SMILES parsing errors, SSSR rings, and the single/many featurizing entry points."""

from __future__ import annotations

import pickle
import threading

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
    SmilesParser,
    featurize_many,
    featurize_smiles,
    parse_smiles,
)
from cgt.data.featurize import arrays_to_graph, graph_arrays
from cgt.errors import InvalidSmilesError, MoleculeError, VocabularyError


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("", "empty SMILES"),
        ("   ", "empty SMILES"),
        ("C1CC", "unclosed ring"),
        ("CN(C)(C)(C)C", "Explicit valence for atom # 1 N, 5"),
        ("c1cccc1", "Can't kekulize mol"),
        ("Cxx", "syntax error while parsing: Cxx"),
    ],
)
def test_invalid_smiles_name_the_input_and_rdkit_reason(smiles: str, reason: str) -> None:
    with pytest.raises(InvalidSmilesError) as info:
        featurize_smiles(smiles)
    error = info.value
    assert isinstance(error, ValueError) and error.smiles == smiles
    assert reason in error.reason and reason in str(error) and repr(smiles) in str(error)
    assert "[" not in error.reason.split(":")[0]  # RDKit's timestamps are stripped


def test_parse_smiles_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="got NoneType"):
        parse_smiles(None)  # type: ignore[arg-type]


def test_parser_attributes_each_reason_to_its_own_smiles() -> None:
    with SmilesParser() as parser:
        with pytest.raises(InvalidSmilesError, match="unclosed ring") as first:
            parser.parse("C1CC")
        assert parser.parse("CCO").GetNumAtoms() == 3
        with pytest.raises(InvalidSmilesError) as second:
            parser.parse("CN(C)(C)(C)C")
    assert "unclosed" not in second.value.reason and "valence" in second.value.reason
    assert "valence" not in first.value.reason


def test_errors_survive_pickling() -> None:
    """DataLoader workers and multiprocessing send errors between processes."""
    for error in (
        InvalidSmilesError("C1CC", "unclosed ring"),
        VocabularyError("[Se]", "atom", 0, "Se, charge +0, 0 explicit H", "zinc", "not in it"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert copy.__dict__ == error.__dict__


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


def test_parsing_from_threads() -> None:
    """The log capture is process-wide; concurrent parsing must neither crash nor mix up."""
    failures: list[str] = []

    def work() -> None:
        for _ in range(50):
            try:
                parse_smiles("C1CC")
            except InvalidSmilesError as error:
                if "unclosed ring" not in error.reason:
                    failures.append(error.reason)
            if parse_smiles("CCN").GetNumAtoms() != 3:
                failures.append("CCN")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def rings_of(smiles: str) -> list[tuple[int, frozenset[int], bool]]:
    graph = featurize_smiles(smiles, "zinc")
    atoms, ring = graph.ring_index
    return sorted(
        (
            int(graph.ring_size[r]),
            frozenset(atoms[ring == r].tolist()),
            bool(graph.ring_aromatic[r]),
        )
        for r in range(graph.ring_size.numel())
    )


@pytest.mark.parametrize(
    ("smiles", "expected"),
    [
        ("CCO", []),
        ("C1CCCCC1", [(6, False)]),
        ("c1ccc2ccccc2c1", [(6, True), (6, True)]),  # naphthalene: fused
        ("C1CC2CCC1C2", [(5, False), (5, False)]),  # norbornane: bridged
        # adamantane: bridged; RDKit's symmetrized SSSR keeps all 4 equivalent rings
        ("C1C2CC3CC1CC(C2)C3", [(6, False)] * 4),
        ("C1CCC2(CC1)CCCC2", [(5, False), (6, False)]),  # spiro[4.5]decane
        ("c1ccc2c(c1)-c1ccccc1-2", [(4, False), (6, True), (6, True)]),  # biphenylene
        ("c1ccc2[nH]ccc2c1", [(5, True), (6, True)]),  # indole
    ],
)
def test_rings(smiles: str, expected: list[tuple[int, bool]]) -> None:
    rings = rings_of(smiles)
    assert [(size, aromatic) for size, _, aromatic in rings] == expected
    mol = Chem.MolFromSmiles(smiles)
    sssr = mol.GetRingInfo().AtomRings()
    assert {atoms for _, atoms, _ in rings} == {frozenset(r) for r in sssr}
    assert all(len(atoms) == size for size, atoms, _ in rings)


def test_shared_ring_atoms() -> None:
    naphthalene = rings_of("c1ccc2ccccc2c1")
    assert len(naphthalene[0][1] & naphthalene[1][1]) == 2
    spiro = rings_of("C1CCC2(CC1)CCCC2")
    assert len(spiro[0][1] & spiro[1][1]) == 1
    norbornane = rings_of("C1CC2CCC1C2")
    assert len(norbornane[0][1] & norbornane[1][1]) == 3


def test_ring_index_lists_atoms_in_ring_order() -> None:
    """Consecutive atoms of a ring are bonded (the aromatic-ring test relies on it)."""
    graph = featurize_smiles("C1C2CC3CC1CC(C2)C3", "zinc")
    bonds = set(map(tuple, graph.edge_index.t().tolist()))
    atoms, ring = graph.ring_index
    for r in range(graph.ring_size.numel()):
        members = atoms[ring == r].tolist()
        assert all((a, b) in bonds for a, b in zip(members, members[1:] + members[:1], strict=True))


# ------------------------------------------------- equivalence with RDKit's default parse


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
