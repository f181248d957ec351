"""Random walks vs explicit matrix powers; batched pair features vs a per-graph reference."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

from cgt.data import MolGraph, featurize_smiles
from cgt.data.pairs import pair_features, random_walk_probabilities

STEPS = 5


def explicit_powers(graph: MolGraph, steps: int) -> torch.Tensor:
    """[n, n, steps] from a dense float64 P = D^-1 A and torch.linalg.matrix_power."""
    n = graph.num_nodes
    adjacency = torch.zeros(n, n, dtype=torch.float64)
    for i, j in graph.edge_index.t().tolist():
        adjacency[i, j] = 1.0
    transition = torch.zeros_like(adjacency)
    for i in range(n):
        degree = adjacency[i].sum()
        if degree > 0:
            transition[i] = adjacency[i] / degree
    return torch.stack([torch.linalg.matrix_power(transition, k) for k in range(1, steps + 1)], -1)


@pytest.mark.parametrize(
    ("smiles", "featurizer"),
    [
        ("C", "zinc"),  # one atom: P = 0
        ("CC.O", "zinc"),  # disconnected, with an isolated atom
        ("[Na+].[Cl-]", "atom"),  # two isolated ions
        ("c1ccc2ccccc2c1", "zinc"),
        ("CC(C)(C)c1ccc(O)cc1", "atom"),
    ],
)
def test_random_walks_equal_matrix_powers(smiles: str, featurizer: str) -> None:
    graph = featurize_smiles(smiles, featurizer)
    n = graph.num_nodes
    walks = random_walk_probabilities(graph.edge_index, n, STEPS, dtype=torch.float64)
    assert walks.shape == (n * n, STEPS)
    expected = explicit_powers(graph, STEPS).reshape(n * n, STEPS)
    torch.testing.assert_close(walks, expected, rtol=0, atol=1e-12)
    # Rows of P^k are distributions, or zero for isolated atoms.
    degree = torch.bincount(graph.edge_index[0], minlength=n)
    row_sums = walks.reshape(n, n, STEPS).sum(1)
    torch.testing.assert_close(row_sums, (degree > 0).double()[:, None].expand(n, STEPS))


def reference_pairs(graph: MolGraph, steps: int) -> dict[str, torch.Tensor]:
    """Per-graph pair features with plain loops (row-major over (i, j))."""
    n = graph.num_nodes
    bonds = {
        (i, j): t
        for (i, j), t in zip(graph.edge_index.t().tolist(), graph.bond_type.tolist(), strict=True)
    }
    atoms, ring_ids = graph.ring_index.tolist()
    rings = [
        ({a for a, r in zip(atoms, ring_ids, strict=True) if r == k}, size, aromatic)
        for k, (size, aromatic) in enumerate(
            zip(graph.ring_size.tolist(), graph.ring_aromatic.tolist(), strict=True)
        )
    ]
    cycle_atoms, cycle_ids = graph.cycle_index.tolist()
    cycles = [
        {a for a, c in zip(cycle_atoms, cycle_ids, strict=True) if c == k}
        for k in range(graph.cycle_size.numel())
    ]
    kind, ring, ring_sssr, ring_size, ring_aromatic = [], [], [], [], []
    for i in range(n):
        for j in range(n):
            kind.append(0 if i == j else bonds.get((i, j), 0) + 1)
            common = [(s, aro) for members, s, aro in rings if i != j and {i, j} <= members]
            ring_sssr.append(0 if not common else 1 if (i, j) in bonds else 2)
            in_cycle = i != j and any({i, j} <= members for members in cycles)
            ring.append(0 if not in_cycle else 1 if (i, j) in bonds else 2)
            ring_size.append(min((s for s, _ in common), default=0))
            ring_aromatic.append(any(aro for _, aro in common))
    walks = random_walk_probabilities(graph.edge_index, n, steps)
    return {
        "kind": torch.tensor(kind),
        "random_walk": walks,
        "landing": walks.reshape(n, n, steps).diagonal(dim1=0, dim2=1).t(),
        "ring": torch.tensor(ring),
        "ring_sssr": torch.tensor(ring_sssr),
        "ring_size": torch.tensor(ring_size),
        "ring_aromatic": torch.tensor(ring_aromatic),
    }


MIXED = [
    ("c1ccc2ccccc2c1", "zinc"),  # fused
    ("C", "zinc"),  # single atom
    ("C1CC2CCC1C2", "zinc"),  # bridged
    ("CC.O", "zinc"),  # disconnected
    ("C1CC2CC2C1", "zinc"),  # fused 3- and 5-ring: smallest common ring
    ("C1C2CC3CC1CC(C2)C3", "zinc"),  # adamantane
    ("C1CCC2(CC1)CCCC2", "zinc"),  # spiro
    ("C1CC2CCCC3CCCC(C1)C23", "zinc"),  # perhydrophenalene: a chordless 12-atom perimeter
    ("C1CCCCCCCCCCCCCCCCCCC1", "zinc"),  # a 20-ring: an SSSR ring, longer than the bound
    ("Cc1[nH+]c(SCc2cc([O-])n3ncc(C#N)c3n2)n(C2CCCCC2)c1C", "zinc"),
]


@pytest.mark.parametrize("featurizer", ["zinc", "atom"])
def test_batched_pair_features_equal_per_graph_reference(featurizer: str) -> None:
    graphs = [featurize_smiles(s, featurizer) for s, _ in MIXED]
    if featurizer == "atom":
        graphs.append(featurize_smiles("[Na+].[Cl-]", "atom"))
    batch = Batch.from_data_list(graphs)
    features = pair_features(batch, STEPS)
    references = [reference_pairs(g, STEPS) for g in graphs]
    for key in ("kind", "random_walk", "ring", "ring_sssr", "ring_size", "ring_aromatic"):
        expected = torch.cat([r[key] for r in references])
        actual = getattr(features, key)
        assert actual.dtype == expected.dtype, key
        torch.testing.assert_close(actual, expected, rtol=0, atol=1e-6, msg=key)
    torch.testing.assert_close(features.landing, torch.cat([r["landing"] for r in references]))
    sizes = torch.tensor([g.num_nodes for g in graphs])
    assert torch.equal(features.index.pair_ptr[1:], torch.cumsum(sizes**2, 0))
    if featurizer == "atom":
        assert (features.kind == 5).any()  # aromatic bonds


def test_ring_pair_examples() -> None:
    # Bicyclo[3.1.0]hexane: atoms 2 and 4 share the 3-ring and the 5-ring; bonded.
    features = pair_features(featurize_smiles("C1CC2CC2C1"), STEPS)
    n = 6
    assert features.ring_size[2 * n + 4] == 3 and features.ring[2 * n + 4] == 1
    assert features.ring_size[0 * n + 2] == 5 and features.ring[0 * n + 2] == 2  # not bonded
    assert features.ring_size[0 * n + 3] == 0 and features.ring[0 * n + 3] == 0  # 3: 3-ring only
    assert features.ring[0 * n + 5] == 1 and features.ring[0] == 0  # bonded; self
    # Naphthalene: atoms of different rings that are not ring-fusion atoms share nothing.
    naphthalene = pair_features(featurize_smiles("c1ccc2ccccc2c1"), STEPS)
    assert naphthalene.ring[0 * 10 + 5] == 0 and naphthalene.ring_aromatic[0 * 10 + 1]
    assert not naphthalene.ring_aromatic[0 * 10 + 5]


def test_a_single_graph_without_batch_vector() -> None:
    graph = featurize_smiles("CC.O")
    features = pair_features(graph, 3)
    reference = reference_pairs(graph, 3)
    assert torch.equal(features.kind, reference["kind"])
    torch.testing.assert_close(features.random_walk, reference["random_walk"])


def test_steps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="steps must be >= 1"):
        pair_features(featurize_smiles("CC"), 0)
