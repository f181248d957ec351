import pytest
import torch
from torch_geometric.data import Batch

from cgt.data import featurize_smiles, get_featurizer
from cgt.model import CGT

SMILES = [
    "CCO",
    "c1ccccc1O",
    "CC(=O)Nc1ccc(O)cc1",
    "C1CC2CCC1C2",
    "O=C([O-])c1ccccc1",
    "C[NH+](C)CCc1c[nH]c2ccccc12",
    "FC(F)(F)c1ccc(Cl)cc1",
    "C#CCN1CCCC1=O",
]


def zinc_batch(smiles=SMILES, targets=None):
    graphs = [featurize_smiles(s) for s in smiles]
    for i, graph in enumerate(graphs):
        value = float(i) - 3.5 if targets is None else targets[i]
        graph.y = torch.tensor([[value]])
    return Batch.from_data_list(graphs)


def test_paper_preset_parameter_count():
    count = sum(p.numel() for p in CGT().parameters())
    print(f"paper preset (zinc.yaml): {count:,} parameters")
    assert 300_000 <= count <= 500_000


def test_forward_shape_and_config_rebuilds_the_model():
    torch.manual_seed(0)
    model = CGT(channels=16, layers=2, heads=4, steps=6, ring="size", num_targets=3).eval()
    batch = zinc_batch()
    out = model(batch)
    assert out.shape == (len(SMILES), 3) and torch.isfinite(out).all()
    twin = CGT(**model.config).eval()
    twin.load_state_dict(model.state_dict())
    torch.testing.assert_close(twin(batch), out)


def test_graph_order_in_the_batch_does_not_matter():
    torch.manual_seed(0)
    model = CGT(channels=16, layers=2, heads=4, steps=6, pooling="mean").eval()
    out = model(zinc_batch())
    reversed_out = model(zinc_batch(SMILES[::-1]))
    torch.testing.assert_close(reversed_out.flip(0), out, atol=1e-5, rtol=1e-4)


def test_atom_featurizer_model_reads_x_and_edge_attr():
    torch.manual_seed(0)
    inputs = get_featurizer("atom").model_inputs.as_config()
    model = CGT(channels=16, layers=1, heads=4, steps=4, **inputs).eval()
    batch = Batch.from_data_list([featurize_smiles(s, featurizer="atom") for s in SMILES])
    assert model(batch).shape == (len(SMILES), 1)
    assert model.config["node_field"] == "x" and model.config["bond_feature_sizes"]
    with pytest.raises(ValueError, match="node field 'atom_type'"):
        CGT(channels=16, layers=1, heads=4, steps=4)(batch)
    # The bond features count: other bond codes, other outputs.
    changed = batch.clone()
    changed.edge_attr = (batch.edge_attr + 1) % torch.tensor(inputs["bond_feature_sizes"])
    assert not torch.allclose(model(changed), model(batch))


def test_a_new_featurizer_needs_no_model_change():
    """Any graph field of categorical codes works, as its featurizer declares it."""
    torch.manual_seed(0)
    graphs = [featurize_smiles(s) for s in SMILES]
    for graph in graphs:  # a made-up featurizer: atom type and an "is carbon" flag
        graph.codes = torch.stack([graph.atom_type, (graph.atom_type == 0).long()], dim=1)
    batch = Batch.from_data_list(graphs)
    model = CGT(channels=16, layers=1, heads=4, steps=4, node_field="codes",
                node_feature_sizes=[28, 2]).eval()  # fmt: skip
    assert model(batch).shape == (len(SMILES), 1)


def test_tiny_model_overfits_a_handful_of_molecules():
    torch.manual_seed(0)
    model = CGT(channels=32, layers=2, heads=4, steps=8, attention_dropout=0.0)
    batch = zinc_batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = torch.nn.functional.l1_loss(model(batch), batch.y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"L1 loss: first step {losses[0]:.3f}, last step {losses[-1]:.3f}")
    assert losses[-1] < 0.1 * losses[0]


def test_node_outputs_pool_to_forward_and_record_attention():
    torch.manual_seed(0)
    model = CGT(channels=16, layers=3, heads=4, steps=6, num_targets=2, attention_dropout=0.3)
    model.eval()
    batch = zinc_batch()
    attention = []
    nodes = model.node_outputs(batch, attention=attention)
    assert nodes.shape == (batch.num_nodes, 2)
    torch.testing.assert_close(model.head.pool(nodes, batch.batch, batch.num_graphs), model(batch))
    num_pairs = int(((batch.ptr[1:] - batch.ptr[:-1]) ** 2).sum())
    assert len(attention) == 3 and all(a.shape == (num_pairs, 4) for a in attention)
