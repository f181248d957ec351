import pytest
import torch

from cgt.nn.heads import GraphHead


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_pools_the_per_node_mlp_per_graph(pooling):
    torch.manual_seed(0)
    head = GraphHead(16, num_targets=3, pooling=pooling)
    x = torch.randn(6, 16)
    batch = torch.tensor([0, 0, 0, 1, 2, 2])
    out = head(x, batch, num_graphs=3)
    per_node = head.mlp(x)
    reduce = torch.sum if pooling == "sum" else torch.mean
    expected = torch.stack([reduce(per_node[batch == g], dim=0) for g in range(3)])
    torch.testing.assert_close(out, expected)


def test_paper_head_shape_and_bad_pooling():
    head = GraphHead(64, 1)
    assert [m.out_features for m in head.mlp if isinstance(m, torch.nn.Linear)] == [32, 16, 1]
    with pytest.raises(ValueError, match="pooling"):
        GraphHead(64, 1, pooling="max")


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_forward_pools_the_node_outputs(pooling):
    torch.manual_seed(0)
    head = GraphHead(16, num_targets=2, pooling=pooling)
    x, batch = torch.randn(5, 16), torch.tensor([0, 0, 1, 1, 1])
    nodes = head.node_outputs(x)
    assert nodes.shape == (5, 2)
    torch.testing.assert_close(head(x, batch, 2), head.pool(nodes, batch, 2))
    scale = torch.tensor([2.0, 2.0, 3.0, 3.0, 3.0])[:, None] if pooling == "mean" else 1.0
    torch.testing.assert_close(head(x, batch, 2)[0], (nodes / scale)[:2].sum(0))
