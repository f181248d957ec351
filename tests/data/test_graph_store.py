"""GraphStore: collated storage gives back exactly the graphs that went in."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from cgt.data import GraphStore, featurize_smiles
from cgt.data.smiles_to_graph import graph_arrays

SMILES = ["c1ccccc1C1CC1", "C", "CC.O", "C1CC2CCC1C2", "OC(=O)[O-]"]


@pytest.mark.parametrize("featurizer", ["zinc", "atom"])
def test_items_equal_the_featurized_graphs(featurizer: str) -> None:
    graphs = [graph_arrays(s, featurizer) for s in SMILES]
    y = np.arange(2 * len(SMILES), dtype=np.float64).reshape(-1, 2)
    store = GraphStore(GraphStore.collate(graphs, SMILES, y, [0, 1, 2, 4, 5]))
    assert len(store) == len(SMILES) and store.rows.tolist() == [0, 1, 2, 4, 5]
    assert store.num_atoms.tolist() == [featurize_smiles(s).num_nodes for s in SMILES]
    for index, smiles in enumerate(SMILES):
        item, expected = store[index], featurize_smiles(smiles, featurizer)
        assert item.smiles == smiles and item.num_nodes == expected.num_nodes
        assert set(item.keys()) == set(expected.keys()) | {"y"}
        for key in expected.keys():
            if key not in ("smiles", "num_nodes"):
                assert torch.equal(item[key], expected[key]), key
        assert item.y.shape == (1, 2) and item.y.dtype == torch.float32
        assert item.y.tolist() == [y[index].tolist()]
    assert store[-1].smiles == SMILES[-1]
    with pytest.raises(IndexError, match="index 5 is out of range for 5 molecules"):
        store[5]


def test_payload_round_trip() -> None:
    graphs = [graph_arrays(s) for s in SMILES]
    store = GraphStore(GraphStore.collate(graphs, SMILES, np.zeros((5, 1)), range(5)))
    again = GraphStore(store.payload())
    assert torch.equal(again[3].edge_index, store[3].edge_index)


def test_an_empty_store_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one valid molecule"):
        GraphStore.collate([], [], np.zeros((0, 1)), [])


@pytest.mark.parametrize("featurizer", ["zinc", "atom"])
def test_batch_equals_pyg_batching_of_the_items(featurizer: str) -> None:
    smiles = SMILES + ["c1ccc2ccccc2c1", "CCN(CC)CC", "C1C2CC3CC1CC(C2)C3"]
    graphs = [graph_arrays(s, featurizer) for s in smiles]
    y = np.random.default_rng(0).normal(size=(len(smiles), 3))
    store = GraphStore(GraphStore.collate(graphs, smiles, y, range(len(smiles))))
    for positions in ([0], [7, 1, 2, 0, 5], list(range(len(smiles)))[::-1], [3, 3]):
        fast = store.batch(positions)
        reference = Batch.from_data_list([store[i] for i in positions])
        assert type(fast) is type(reference)
        assert set(fast.keys()) == set(reference.keys())
        for key in reference.keys():
            if torch.is_tensor(reference[key]):
                assert fast[key].dtype == reference[key].dtype, key
                assert torch.equal(fast[key], reference[key]), key
            else:
                assert fast[key] == reference[key], key
        assert fast.num_graphs == reference.num_graphs == len(positions)
        for key, slices in reference._slice_dict.items():
            assert torch.equal(fast._slice_dict[key], slices), key
        for a, b in zip(fast.to_data_list(), reference.to_data_list(), strict=True):
            assert a.smiles == b.smiles and a.num_nodes == b.num_nodes
            for key in b.keys():
                if torch.is_tensor(b[key]):
                    assert torch.equal(a[key], b[key]), key
