"""The "zinc" and "atom" featurizers: vocabulary, bond types, errors, registry."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import torch
from rdkit import Chem

from cgt.data import (
    ATOM_FEATURE_NAMES,
    ATOM_FEATURE_SIZES,
    BOND_FEATURE_SIZES,
    ELEMENTS,
    ZINC,
    ZINC_ATOM_TYPES,
    featurize_smiles,
    get_featurizer,
)
from cgt.errors import VocabularyError


def zinc_labels(smiles: str) -> list[str]:
    graph = featurize_smiles(smiles, "zinc")
    return [ZINC_ATOM_TYPES[t] for t in graph.atom_type.tolist()]


@pytest.mark.parametrize(
    ("smiles", "expected"),
    [
        ("c1cc[nH]c1", ["C", "C", "C", "N", "C"]),  # aromatic [nH] is plain N
        ("C[C@H](N)O", ["C", "C H1", "N", "O"]),  # chiral [C@H] keeps its H
        ("C[NH+](C)C", ["C", "N H1 +", "C", "C"]),
        ("C[NH3+]", ["C", "N H3 +"]),
        ("C[NH2+]C", ["C", "N H2 +", "C"]),
        ("CC(=O)[O-]", ["C", "C", "O", "O -"]),
        ("C[n+]1ccccc1", ["C", "N +", "C", "C", "C", "C", "C"]),
        ("C[N-]S(C)(=O)=O", ["C", "N -", "S", "C", "O", "O"]),
        ("C[S-]", ["C", "S -"]),
        ("[CH2-]C#N", ["C H2 -", "C", "N"]),
        ("O=[PH](O)c1ccccc1", ["O", "P H1", "O", "C", "C", "C", "C", "C", "C"]),
        ("FC(Cl)(Br)I", ["F", "C", "Cl", "Br", "I"]),
        ("c1cc[nH+]cc1", ["C", "C", "C", "N H1 +", "C", "C"]),
    ],
)
def test_zinc_vocabulary(smiles: str, expected: list[str]) -> None:
    assert zinc_labels(smiles) == expected


def test_zinc_bonds_are_kekule_and_both_directions() -> None:
    graph = featurize_smiles("c1ccccc1C#N", "zinc")
    src, dst = graph.edge_index
    assert graph.edge_index.dtype == torch.long and graph.bond_type.dtype == torch.long
    # Both directions with the same type, sorted by (source, target).
    pairs = {
        (s, d): t
        for s, d, t in zip(src.tolist(), dst.tolist(), graph.bond_type.tolist(), strict=True)
    }
    assert all(pairs[(d, s)] == t for (s, d), t in pairs.items())
    assert (src * 100 + dst).diff().gt(0).all()
    assert Counter(graph.bond_type.tolist()) == {1: 2 * 4, 2: 2 * 3, 3: 2 * 1}


def kekule_smiles_labels(smiles: str) -> Counter:
    """Independent recipe: the atom tokens of RDKit's kekulé SMILES (README)."""
    mol = Chem.MolFromSmiles(smiles)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    text = Chem.MolToSmiles(mol, kekuleSmiles=True)
    labels = Counter()
    for bracket, plain in re.findall(r"\[([^\]]+)\]|(Cl|Br|[BCNOSPFI])", text):
        if plain:
            labels[plain] += 1
            continue
        symbol, hydrogens, charge = re.fullmatch(
            r"\d*([A-Z][a-z]?)@*(H\d*)?([+-]\d*)?", bracket
        ).groups()
        label = symbol
        if hydrogens:
            label += f" H{hydrogens[1:] or 1}"
        if charge:
            label += f" {charge[0]}"
        labels[label] += 1
    return labels


def test_zinc_val_test_match_the_kekule_smiles_tokens(zinc_root: Path) -> None:
    """Every val/test molecule: types in the vocabulary, equal to the kekulé SMILES tokens."""
    seen_types: Counter = Counter()
    graphs = [g for split in ("val", "test") for g in ZINC(split, root=zinc_root)]
    assert len(graphs) == 2000
    for graph in graphs:
        labels = Counter(ZINC_ATOM_TYPES[t] for t in graph.atom_type.tolist())
        assert labels == kekule_smiles_labels(graph.smiles), graph.smiles
        assert set(graph.bond_type.tolist()) <= {1, 2, 3}
        assert 9 <= graph.num_nodes <= 37
        seen_types.update(labels)
    # The frequent types of ZINC appear, and nothing outside the 28 types.
    assert {"C", "O", "N", "F", "C H1", "S", "Cl", "O -", "N H1 +"} <= set(seen_types)


@pytest.mark.parametrize("smiles", ["[Se]", "C[Si](C)(C)C", "[Na+].[Cl-]", "CB(C)C"])
def test_zinc_rejects_atoms_outside_the_vocabulary(smiles: str) -> None:
    with pytest.raises(VocabularyError) as info:
        featurize_smiles(smiles, "zinc")
    error = info.value
    assert error.smiles == smiles and error.part == "atom" and error.featurizer == "zinc"
    atom = Chem.MolFromSmiles(smiles).GetAtomWithIdx(error.index)
    assert error.description.startswith(atom.GetSymbol() + ",")
    assert repr(smiles) in str(error) and f"atom {error.index}" in str(error)


@pytest.mark.parametrize("featurizer", ["zinc", "atom"])
@pytest.mark.parametrize("smiles", ["CN(C)(C)->O", "C$C"])
def test_bonds_outside_the_vocabulary(smiles: str, featurizer: str) -> None:
    with pytest.raises(VocabularyError, match="bond") as info:
        featurize_smiles(smiles, featurizer)
    error = info.value
    assert error.part == "bond" and error.description in ("DATIVE", "QUADRUPLE")
    assert error.index == Chem.MolFromSmiles(smiles).GetNumBonds() - 1


def test_atom_featurizer_columns() -> None:
    graph = featurize_smiles("c1ccncc1C(=O)[O-]", "atom")
    assert graph.x.shape == (9, len(ATOM_FEATURE_NAMES)) and graph.x.dtype == torch.long
    assert (graph.x < torch.tensor(ATOM_FEATURE_SIZES)).all() and (graph.x >= 0).all()
    column = {name: graph.x[:, k].tolist() for k, name in enumerate(ATOM_FEATURE_NAMES)}
    assert [ELEMENTS[e] for e in column["element"]] == list("CCCNCCCOO")
    assert column["aromatic"] == [1] * 6 + [0] * 3
    assert column["in_ring"] == [1] * 6 + [0] * 3
    assert column["formal_charge"][-1] == 2 - 1 and column["formal_charge"][0] == 2
    assert column["degree"][5] == 3 and column["total_hs"][0] == 1 and column["total_hs"][5] == 0
    sp2 = int(Chem.HybridizationType.SP2)
    assert column["hybridization"][:7] == [sp2] * 7
    # Bonds: aromatic type 4, edge_attr = (order - 1, conjugated, in ring).
    assert graph.edge_attr.shape == (graph.edge_index.shape[1], len(BOND_FEATURE_SIZES))
    assert torch.equal(graph.edge_attr[:, 0], graph.bond_type - 1)
    assert Counter(graph.bond_type.tolist()) == {4: 12, 1: 4, 2: 2}
    ring_bonds = graph.edge_attr[:, 2] == 1
    assert torch.equal(ring_bonds, graph.bond_type == 4)
    assert graph.edge_attr[:, 1].all()  # everything here is conjugated


def test_atom_featurizer_takes_ions_and_single_atoms() -> None:
    salt = featurize_smiles("[Na+].[Cl-]", "atom")
    assert salt.num_nodes == 2 and salt.edge_index.shape == (2, 0)
    assert salt.edge_attr.shape == (0, len(BOND_FEATURE_SIZES))
    assert [ELEMENTS[e] for e in salt.x[:, 0].tolist()] == ["Na", "Cl"]
    methane = featurize_smiles("C", "atom")
    assert methane.x[0, ATOM_FEATURE_NAMES.index("total_hs")] == 4


@pytest.mark.parametrize(
    ("smiles", "index", "why"),
    [("CC[Xe]", 2, "known elements"), ("[Fe+3]", 0, "formal charge"), ("[Fe](C)(C)(C)(C)(C)(C)C", 0,
     "degree")],
)  # fmt: skip
def test_atom_featurizer_names_the_rejected_atom(smiles: str, index: int, why: str) -> None:
    with pytest.raises(VocabularyError, match=why) as info:
        featurize_smiles(smiles, "atom")
    assert info.value.index == index and info.value.smiles == smiles


def test_registry() -> None:
    assert get_featurizer("zinc").name == "zinc" and get_featurizer("atom").name == "atom"
    assert get_featurizer("zinc").vocabulary["atom_types"] == list(ZINC_ATOM_TYPES)
    with pytest.raises(ValueError, match="unknown featurizer 'nope'; available: atom, zinc"):
        featurize_smiles("C", "nope")
