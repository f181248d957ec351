import torch

from cgt.packing import pair_index, pair_position, pair_ptr


def test_pair_index_layout():
    index = pair_index(torch.tensor([0, 2, 3]))
    assert index.pair_ptr.tolist() == [0, 4, 5]
    assert index.row.tolist() == [0, 0, 1, 1, 2]
    assert index.col.tolist() == [0, 1, 0, 1, 2]
    assert index.graph.tolist() == [0, 0, 0, 0, 1]


def test_pair_ptr_accepts_int32_and_empty_graphs():
    ptr = torch.tensor([0, 3, 3, 5], dtype=torch.int32)
    assert pair_ptr(ptr).tolist() == [0, 9, 9, 13]
    assert pair_ptr(ptr).dtype == torch.int64


def test_pair_position_inverts_pair_index():
    ptr = torch.tensor([0, 3, 4, 8])
    index = pair_index(ptr)
    node_graph = torch.repeat_interleave(torch.arange(3), ptr[1:] - ptr[:-1])
    where = pair_position(ptr, index.pair_ptr, node_graph, index.row, index.col)
    assert torch.equal(where, torch.arange(index.row.numel()))
