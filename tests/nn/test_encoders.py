from types import SimpleNamespace

import pytest
import torch

from cgt.nn.encoders import MAX_RING_SIZE, NodeEncoder, PairEncoder


def fake_pairs(num_pairs=10, steps=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return SimpleNamespace(
        kind=torch.randint(0, 6, (num_pairs,), generator=gen),
        random_walk=torch.rand(num_pairs, steps, generator=gen),
        ring=torch.randint(0, 3, (num_pairs,), generator=gen),
        ring_sssr=torch.randint(0, 3, (num_pairs,), generator=gen),
        ring_size=torch.randint(0, 20, (num_pairs,), generator=gen),
        ring_aromatic=torch.rand(num_pairs, generator=gen) > 0.5,
        edge_pairs=torch.tensor([2, 7]),
    )


def test_node_encoder_paper_split():
    encoder = NodeEncoder(64, steps=20, node_feature_sizes=[28])
    (embedding,) = encoder.atom.embeddings
    assert embedding.embedding_dim == 36 and encoder.landing[1].out_features == 28
    out = encoder(torch.tensor([0, 27, 3]), torch.rand(3, 20))
    assert out.shape == (3, 64)
    torch.testing.assert_close(out[:, :36], embedding.weight[[0, 27, 3]])


def test_node_encoder_categorical_columns():
    encoder = NodeEncoder(16, steps=4, node_feature_sizes=[5, 3])
    codes = torch.tensor([[4, 0], [1, 2]])
    out = encoder(codes, torch.rand(2, 4))
    e0, e1 = encoder.atom.embeddings
    torch.testing.assert_close(out[:, :9], e0.weight[[4, 1]] + e1.weight[[0, 2]])
    with pytest.raises(ValueError, match="categorical"):
        encoder(torch.tensor([1, 2]), torch.rand(2, 4))


@pytest.mark.parametrize("ring", ["none", "paper", "sssr", "size"])
def test_pair_encoder_ring_variants(ring):
    """The paper variant reads the chordless-cycle feature only; sssr and size the SSSR one."""
    torch.manual_seed(0)
    encoder = PairEncoder(8, steps=5, ring=ring)
    pairs = fake_pairs()
    att, val = encoder(pairs)
    assert att.shape == val.shape == (10, 8)
    changed = fake_pairs()
    changed.ring = (pairs.ring + 1) % 3
    assert torch.equal(encoder(changed)[0], att) == (ring != "paper")
    changed = fake_pairs()
    changed.ring_sssr = (pairs.ring_sssr + 1) % 3
    assert torch.equal(encoder(changed)[0], att) == (ring not in ("sssr", "size"))
    changed = fake_pairs()
    changed.ring_size = pairs.ring_size + 1
    assert torch.equal(encoder(changed)[0], att) == (ring != "size")


def test_pair_encoder_clamps_large_rings_and_adds_bond_features():
    torch.manual_seed(0)
    encoder = PairEncoder(8, steps=5, ring="size", bond_feature_sizes=[4, 2])
    pairs = fake_pairs()
    pairs.ring_size = torch.full((10,), MAX_RING_SIZE)
    edge_attr = torch.tensor([[1, 0], [3, 1]])  # the bonds at pairs 2 and 7
    att, _ = encoder(pairs, edge_attr)
    pairs.ring_size = torch.full((10,), 40)
    torch.testing.assert_close(encoder(pairs, edge_attr)[0], att)
    without = PairEncoder(8, steps=5, ring="size")
    without.load_state_dict(encoder.state_dict(), strict=False)
    differs = (without(pairs)[0] != att).any(dim=1)
    assert differs.tolist() == [i in (2, 7) for i in range(10)]
    with pytest.raises(ValueError, match="edge_attr"):
        encoder(pairs)


def test_paper_pair_encoder_widths_and_bad_ring():
    encoder = PairEncoder(64, steps=20)
    assert encoder.kind.embedding_dim == 32 and encoder.random_walk.out_features == 32
    with pytest.raises(ValueError, match="ring"):
        PairEncoder(64, steps=20, ring="yes")
