"""Batching MolGraphs: ring ids and atom indices are offset per graph."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch

from cgt.data import featurize_smiles


def test_batch_offsets_rings_and_atoms() -> None:
    graphs = [featurize_smiles(s) for s in ("c1ccccc1C1CC1", "CC", "C1CC1", "c1ccc2ccccc2c1")]
    batch = Batch.from_data_list(graphs)
    assert batch.ptr.tolist() == [0, 9, 11, 14, 24]
    assert torch.equal(batch.ring_size, torch.cat([g.ring_size for g in graphs]))
    assert batch.ring_size.tolist() == [3, 6, 3, 6, 6]
    assert batch.smiles == ["c1ccccc1C1CC1", "CC", "C1CC1", "c1ccc2ccccc2c1"]
    atom_offsets = [0, 9, 11, 14]
    ring_offsets = [0, 2, 2, 3]
    expected = torch.cat(
        [
            g.ring_index + torch.tensor([[a], [r]])
            for g, a, r in zip(graphs, atom_offsets, ring_offsets, strict=True)
        ],
        dim=1,
    )
    assert torch.equal(batch.ring_index, expected)
    assert torch.equal(batch.ring_aromatic, torch.tensor([False, True, False, True, True]))
    # And back: each graph comes out of the batch unchanged.
    for graph, again in zip(graphs, batch.to_data_list(), strict=True):
        assert torch.equal(graph.ring_index, again.ring_index)
        assert torch.equal(graph.edge_index, again.edge_index)
