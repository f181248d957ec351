"""Ring fields: RDKit's symmetrized SSSR (sizes, aromaticity, ring order) and the paper's
rings, chordless cycles of at most 18 atoms."""

from __future__ import annotations

import itertools

import pytest
import torch
from rdkit import Chem

from cgt.data import featurize_smiles
from cgt.data.rings import MAX_CYCLE_LENGTH, chordless_cycles


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


# --------------------------------------------------------------- chordless cycles (paper)


def differing_pairs(smiles: str) -> dict[tuple[int, int], tuple[int, int]]:
    """Unordered pairs whose paper ring category (chordless cycles) differs from the SSSR
    one: ``(i, j) -> (paper, sssr)`` with 0 no common ring, 1 bonded, 2 not bonded."""
    from cgt.data import pair_features

    graph = featurize_smiles(smiles, "zinc")
    n = graph.num_nodes
    features = pair_features(graph, 2)
    paper = features.ring.view(n, n)
    sssr = features.ring_sssr.view(n, n)
    assert torch.equal(paper, paper.t()) and torch.equal(sssr, sssr.t())
    return {
        (i, j): (int(paper[i, j]), int(sssr[i, j]))
        for i in range(n)
        for j in range(i + 1, n)
        if paper[i, j] != sssr[i, j]
    }


def brute_force_chordless(smiles: str, max_length: int) -> set[frozenset[int]]:
    """Atom sets that induce a cycle (every atom of degree 2 inside the set, connected)."""
    mol = Chem.MolFromSmiles(smiles)
    ring_atoms = [a.GetIdx() for a in mol.GetAtoms() if a.IsInRing()]
    bonds = {frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) for b in mol.GetBonds()}
    found = set()
    for size in range(3, min(max_length, len(ring_atoms)) + 1):
        for subset in itertools.combinations(ring_atoms, size):
            inside = [e for e in itertools.combinations(subset, 2) if frozenset(e) in bonds]
            if len(inside) != size:
                continue
            degree = {a: 0 for a in subset}
            for a, b in inside:
                degree[a] += 1
                degree[b] += 1
            if all(d == 2 for d in degree.values()):
                # connected: walk from the first atom
                seen, stack = {subset[0]}, [subset[0]]
                while stack:
                    a = stack.pop()
                    for b in subset:
                        if b not in seen and frozenset((a, b)) in bonds:
                            seen.add(b)
                            stack.append(b)
                if len(seen) == size:
                    found.add(frozenset(subset))
    return found


NOT_BONDED_SHARED = (2, 0)  # in a common chordless cycle, not bonded; in no common SSSR ring


@pytest.mark.parametrize(
    ("smiles", "expected"),
    [
        # norbornane (bridged bicycle): SSSR = the two 5-rings (0,1,2,6,5), (2,3,4,5,6); the
        # 6-atom envelope 0-1-2-3-4-5 is chordless, so 0/1 and 3/4 share a ring only there.
        ("C1CC2CCC1C2", {(0, 3): (2, 0), (0, 4): (2, 0), (1, 3): (2, 0), (1, 4): (2, 0)}),
        # tropane (N-methyl-8-azabicyclo[3.2.1]octane, bridged): the 7-atom envelope
        # 2-3-4-5-6-7-9 (without the N bridge) is chordless.
        (
            "CN1C2CCC1CC(O)C2",
            {(3, 6): (2, 0), (3, 7): (2, 0), (3, 9): (2, 0),
             (4, 6): (2, 0), (4, 7): (2, 0), (4, 9): (2, 0)},
        ),  # fmt: skip
        # adamantane (bridged tricycle): the CH2 on opposite edges of the bridgehead
        # tetrahedron share no 6-ring, only a chordless 8-ring.
        ("C1C2CC3CC1CC(C2)C3", {(0, 9): (2, 0), (2, 6): (2, 0), (4, 8): (2, 0)}),
        # perhydrophenalene (fused tricycle around one atom, 12): its 12-atom perimeter is a
        # chordless cycle; perimeter atoms of rings not sharing them meet only there.
        (
            "C1CC2CCCC3CCCC(C1)C23",
            {pair: NOT_BONDED_SHARED for pair in [
                (0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (0, 8), (0, 9),
                (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8), (1, 9),
                (2, 7), (2, 8), (2, 9),
                (3, 7), (3, 8), (3, 9), (3, 10), (3, 11),
                (4, 7), (4, 8), (4, 9), (4, 10), (4, 11),
                (5, 7), (5, 8), (5, 9), (5, 10), (5, 11),
                (6, 11), (7, 11), (8, 11), (9, 11),
            ]},
        ),  # fmt: skip
        # naphthalene, spiro[4.5]decane, a 12-ring, a 18-ring: both definitions agree.
        ("c1ccc2ccccc2c1", {}),
        ("C1CCC2(CC1)CCCC2", {}),
        ("C1CCCCCCCCCCC1", {}),
        ("C1CCCCCCCCCCCCCCCCC1", {}),
    ],
)
def test_paper_rings_differ_from_sssr_exactly_here(smiles: str, expected: dict) -> None:
    assert differing_pairs(smiles) == expected


def test_a_macrocycle_longer_than_the_bound_is_no_paper_ring() -> None:
    """A 19-ring is an SSSR ring (every pair: 1 bonded, 2 not) but not a chordless cycle of
    at most 18 atoms, so no pair shares a paper ring."""
    differing = differing_pairs("C1CCCCCCCCCCCCCCCCCC1")
    assert len(differing) == 19 * 18 // 2
    assert {paper for paper, _ in differing.values()} == {0}
    bonded = {pair for pair, (_, sssr) in differing.items() if sssr == 1}
    assert bonded == {(i, i + 1) for i in range(18)} | {(0, 18)}
    assert MAX_CYCLE_LENGTH == 18


@pytest.mark.parametrize(
    "smiles",
    [
        "C1CC2CCC1C2", "CN1C2CCC1CC(O)C2", "C1C2CC3CC1CC(C2)C3", "C1CC2CCCC3CCCC(C1)C23",
        "c1ccc2ccccc2c1", "C1CCC2(CC1)CCCC2", "c1ccc2c(c1)-c1ccccc1-2", "C1CC2CC2C1",
        "C12C3C4C1C5C2C3C45",  # cubane: six 4-rings, chordless 6-rings too
    ],
)  # fmt: skip
def test_chordless_cycles_equal_a_brute_force_enumeration(smiles: str) -> None:
    cycles = chordless_cycles(Chem.MolFromSmiles(smiles))
    assert {frozenset(c) for c in cycles} == brute_force_chordless(smiles, MAX_CYCLE_LENGTH)
    assert len(cycles) == len({frozenset(c) for c in cycles})  # each once
    bonds = set(map(tuple, featurize_smiles(smiles).edge_index.t().tolist()))
    for cycle in cycles:  # listed in cycle order
        assert all((a, b) in bonds for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True))


def test_the_bound_is_a_parameter() -> None:
    mol = Chem.MolFromSmiles("C1CC2CCC1C2")
    assert [len(c) for c in chordless_cycles(mol, 5)] == [5, 5]
    assert sorted(len(c) for c in chordless_cycles(mol)) == [5, 5, 6]
