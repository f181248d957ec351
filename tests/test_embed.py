"""Molecule embeddings: CGT.node_embeddings / CGT.embed (cgt.model) and
CGTPredictor.embed / EnsemblePredictor.embed (cgt.inference, cgt.ensemble_predictor)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import Batch

from cgt.data import featurize_smiles
from cgt.data.pairs import pair_features
from cgt.ensemble_predictor import EnsemblePredictor
from cgt.inference import ERROR_COLUMN, CGTPredictor, embedding_columns
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
WIDTH, LAYERS = 16, 3


def tiny_model(seed: int = 0, pooling: str = "sum") -> CGT:
    """An untrained CGT in eval mode, with BatchNorm statistics that are not the identity
    (so that a missing or extra layer shows)."""
    torch.manual_seed(seed)
    model = CGT(channels=WIDTH, layers=LAYERS, heads=4, steps=6, pooling=pooling)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def predictor(seed: int = 0, pooling: str = "sum") -> CGTPredictor:
    return CGTPredictor(tiny_model(seed, pooling), "zinc", ["y"], "regression", [1.0], [2.0])


def batch_of(smiles=SMILES) -> Batch:
    return Batch.from_data_list([featurize_smiles(s) for s in smiles])


def old_node_outputs(model: CGT, batch, attention=None) -> torch.Tensor:
    """The computation of CGT.node_outputs before embeddings were added (a copy)."""
    atoms = getattr(batch, model.node_field)
    features = pair_features(batch, model.steps)
    x = model.node_encoder(atoms, features.landing)
    pair_att, pair_val = model.pair_encoder(features, None)
    for layer in model.layers:
        if attention is not None:
            attention.append(layer.attention.attention_weights(x, pair_att, batch.ptr))
        x = layer(x, pair_att, pair_val, batch.ptr)
    return model.head.node_outputs(x)


def manual_pool(x: torch.Tensor, batch, pooling: str) -> torch.Tensor:
    """``[B, C]``: each graph's nodes summed (or averaged), graph by graph."""
    rows = []
    for g in range(batch.num_graphs):
        nodes = x[batch.ptr[g] : batch.ptr[g + 1]]
        rows.append(nodes.sum(0) if pooling == "sum" else nodes.mean(0))
    return torch.stack(rows)


@torch.no_grad()
def test_forward_and_node_outputs_are_bit_identical_to_before():
    model, batch = tiny_model(), batch_of()
    old_attention, new_attention = [], []
    expected = old_node_outputs(model, batch, old_attention)
    assert torch.equal(model.node_outputs(batch, attention=new_attention), expected)
    assert all(torch.equal(a, b) for a, b in zip(new_attention, old_attention, strict=True))
    pooled = expected.new_zeros(batch.num_graphs, 1).index_add_(0, batch.batch, expected)
    assert torch.equal(model(batch), pooled)
    # The head reads the last layer's node embeddings.
    assert torch.equal(model.head.node_outputs(model.node_embeddings(batch)), expected)


@pytest.mark.parametrize("pooling", ["sum", "mean"])
@torch.no_grad()
def test_embed_pools_the_node_embeddings_with_the_models_pooling(pooling):
    model, batch = tiny_model(pooling=pooling), batch_of()
    for layer in (0, -1):
        nodes = model.node_embeddings(batch, layer)
        assert nodes.shape == (batch.num_nodes, WIDTH)
        graphs = model.embed(batch, layer)
        assert graphs.shape == (len(SMILES), WIDTH)
        torch.testing.assert_close(graphs, manual_pool(nodes, batch, pooling))
    sizes = (batch.ptr[1:] - batch.ptr[:-1]).float()[:, None]
    sum_model = tiny_model(pooling="sum")  # the same weights, other pooling
    ratio = sum_model.embed(batch) / sizes if pooling == "mean" else sum_model.embed(batch)
    torch.testing.assert_close(model.embed(batch), ratio)


@torch.no_grad()
def test_layers_are_counted_like_a_python_list_and_later_layers_do_not_run():
    model, batch = tiny_model(), batch_of()
    last = model.node_embeddings(batch, -1)
    assert torch.equal(last, model.node_embeddings(batch, LAYERS - 1))
    assert torch.equal(model.node_embeddings(batch, -LAYERS), model.node_embeddings(batch, 0))
    middle = model.node_embeddings(batch, 1)
    assert not torch.allclose(middle, last, atol=1e-3)
    assert not torch.allclose(model.embed(batch, 1), model.embed(batch), atol=1e-3)
    calls = []
    hooks = [
        block.register_forward_hook(lambda *_, k=k: calls.append(k))
        for k, block in enumerate(model.layers)
    ]
    model.node_embeddings(batch, 0)
    model.embed(batch, -2)
    for hook in hooks:
        hook.remove()
    assert calls == [0, 0, 1]


@pytest.mark.parametrize("layer", [LAYERS, -LAYERS - 1, 10])
def test_a_layer_out_of_range_is_refused_with_the_range(layer):
    model, batch = tiny_model(), batch_of(SMILES[:2])
    with pytest.raises(IndexError, match=rf"layer {layer} out of range.*3 CGT layers.*-3\.\.2"):
        model.node_embeddings(batch, layer)
    with pytest.raises(IndexError, match="out of range"):
        model.embed(batch, layer)
    with pytest.raises(IndexError, match=r"-3\.\.2"):
        predictor().embed(["CCO"], layer=layer)  # the caller's error, not a row's


@pytest.mark.parametrize("layer", [1.0, True, "1"])
def test_a_layer_that_is_not_a_whole_number_is_refused(layer):
    with pytest.raises(TypeError):
        tiny_model().layer_index(layer)


def test_predictor_embed_keeps_every_row_in_order_with_reasons():
    inputs = ["CCO", "not a smiles", "", "c1ccccc1O", "CCé", "[U]", "CC(=O)Nc1ccc(O)cc1"]
    table = predictor().embed(inputs, batch_size=2)
    columns = embedding_columns(WIDTH)
    assert list(table.columns) == ["smiles", *columns, ERROR_COLUMN]
    assert columns[0] == "emb_0" and columns[-1] == f"emb_{WIDTH - 1}"
    assert table["smiles"].tolist() == inputs
    errors = table[ERROR_COLUMN].tolist()
    assert [e == "" for e in errors] == [True, False, False, True, False, False, True]
    assert errors[1].startswith("invalid SMILES") and "empty" in errors[2]
    assert "non-ASCII" in errors[4] and "vocabulary" in errors[5]
    assert all("\n" not in e for e in errors)
    values = table[columns].to_numpy()
    assert values.dtype == np.float32
    assert np.isnan(values).all(axis=1).tolist() == [e != "" for e in errors]
    valid = [inputs[i] for i in (0, 3, 6)]
    with torch.no_grad():
        expected = tiny_model().embed(batch_of(valid)).numpy()
    np.testing.assert_allclose(values[[0, 3, 6]], expected, rtol=1e-5, atol=1e-6)


def test_predictor_embed_does_not_depend_on_batches_and_numpy_gives_the_array():
    model = predictor(pooling="mean")
    inputs = [*SMILES, "not a smiles", "C" * 30]
    reference = model.embed(inputs, layer=1, batch_size=1, numpy=True)
    assert isinstance(reference, np.ndarray) and reference.shape == (len(inputs), WIDTH)
    assert reference.dtype == np.float32
    assert np.isnan(reference[8]).all() and np.isfinite(np.delete(reference, 8, axis=0)).all()
    for options in (dict(batch_size=3), dict(batch_size=64, max_pairs=200)):
        got = model.embed(inputs, layer=1, numpy=True, **options)
        np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-6)
    table = model.embed(inputs, layer=1, batch_size=4)
    np.testing.assert_array_equal(table[embedding_columns(WIDTH)].to_numpy(), model.embed(
        inputs, layer=1, batch_size=4, numpy=True))  # fmt: skip
    single = model.embed("CCO", layer=1)
    assert single["smiles"].tolist() == ["CCO"]
    np.testing.assert_allclose(single[embedding_columns(WIDTH)].to_numpy()[0], reference[0],
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_embed_featurized_equals_embed_and_an_empty_input_gives_an_empty_table():
    model = predictor()
    inputs = ["CCO", "", "c1ccccc1O"]
    expected = model.embed(inputs, layer=0, batch_size=2)
    got = model.embed_featurized(inputs, model.featurize(inputs), layer=0, batch_size=2)
    pd.testing.assert_frame_equal(got, expected)
    empty = model.embed([])
    assert list(empty.columns) == ["smiles", *embedding_columns(WIDTH), ERROR_COLUMN]
    assert len(empty) == 0 and model.embed([], numpy=True).shape == (0, WIDTH)


def test_a_molecule_the_model_fails_on_gets_nan_and_a_reason(monkeypatch):
    model = predictor()
    original = model.model.embed

    def fail_on_big(batch, layer):
        if batch.num_nodes > 20:
            raise RuntimeError("out of memory\nsomewhere")
        return original(batch, layer)

    monkeypatch.setattr(model.model, "embed", fail_on_big)
    table = model.embed(["CCO", "C" * 25, "CCN"], batch_size=8)
    assert table[ERROR_COLUMN].tolist() == [
        "", "the model failed on this molecule: out of memory somewhere", ""]  # fmt: skip
    assert table[embedding_columns(WIDTH)].isna().all(axis=1).tolist() == [False, True, False]


def test_an_ensemble_embeds_with_one_member_of_its_choice():
    members = [predictor(seed) for seed in (0, 1)]
    ensemble = EnsemblePredictor(members)
    inputs = ["CCO", "not a smiles", "c1ccccc1O"]
    first, second = (m.embed(inputs) for m in members)
    assert not np.allclose(first[embedding_columns(WIDTH)].to_numpy()[0],
                           second[embedding_columns(WIDTH)].to_numpy()[0])  # fmt: skip
    pd.testing.assert_frame_equal(ensemble.embed(inputs), first)
    pd.testing.assert_frame_equal(ensemble.embed(inputs, member=1), second)
    np.testing.assert_array_equal(ensemble.embed(inputs, layer=0, numpy=True, member=-1),
                                  members[1].embed(inputs, layer=0, numpy=True))  # fmt: skip
    featurized = ensemble.featurize(inputs)
    pd.testing.assert_frame_equal(ensemble.embed_featurized(inputs, featurized, member=1), second)
    with pytest.raises(IndexError, match=r"member 2 out of range.*2 members.*-2\.\.1"):
        ensemble.embed(inputs, member=2)
