"""Ring fields: RDKit's symmetrized SSSR, with sizes, aromaticity and ring order."""

from __future__ import annotations

import pytest
from rdkit import Chem

from cgt.data import featurize_smiles


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
