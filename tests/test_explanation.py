"""Explanations (cgt.explanation, CGTPredictor.explain): exact atom contributions, attention,
predictions equal to predict's, and the pictures."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from rdkit import Chem

from cgt.data import get_featurizer
from cgt.data.zinc import zinc_source
from cgt.errors import InvalidSmilesError
from cgt.explanation import CONSTANT_ELEMENT, Explanation
from cgt.inference import CGTPredictor
from cgt.model import CGT

MEAN, STD = [2.5, -1.0, 40.0], [1.7, 0.3, 12.0]


def zinc_smiles(count: int = 50) -> list[str]:
    with gzip.open(zinc_source(), "rt") as handle:
        table = pd.read_csv(handle, nrows=count)
    return table["smiles"].tolist()


def make_predictor(
    pooling="sum", task="regression", featurizer="zinc", targets=3, seed=0, layers=3
) -> CGTPredictor:
    torch.manual_seed(seed)
    inputs = get_featurizer(featurizer).model_inputs.as_config()
    model = CGT(
        channels=16,
        layers=layers,
        heads=4,
        steps=6,
        pooling=pooling,
        num_targets=targets,
        attention_dropout=0.3,  # must not act: eval mode
        dropout=0.2,
        **inputs,
    )
    for module in model.modules():  # BatchNorm statistics that are not the identity
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    names = ["logp", "qed", "tpsa"][:targets]
    if task == "regression":
        return CGTPredictor(model, featurizer, names, task, MEAN[:targets], STD[:targets])
    return CGTPredictor(model, featurizer, names, task)


@pytest.fixture(scope="module")
def smiles():
    return zinc_smiles(50)


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_contributions_plus_constant_equal_the_prediction(smiles, pooling):
    predictor = make_predictor(pooling=pooling)
    explanations = predictor.explain_many(smiles)
    predicted = predictor.predict(smiles)
    assert len(explanations) == len(smiles)
    spread = []
    for explanation, (_, row) in zip(explanations, predicted.iterrows(), strict=True):
        assert explanation.error == ""
        assert explanation.pooling == pooling
        contributions = explanation.atom_contributions
        assert list(contributions.columns) == ["atom", "element", "logp", "qed", "tpsa"]
        assert len(contributions) == Chem.MolFromSmiles(explanation.smiles).GetNumAtoms()
        total = contributions[["logp", "qed", "tpsa"]].sum(axis=0) + explanation.constant
        np.testing.assert_allclose(total, explanation.prediction, rtol=0, atol=1e-9)
        np.testing.assert_allclose(explanation.explained, explanation.prediction, atol=1e-5)
        np.testing.assert_allclose(explanation.constant, MEAN)
        # explain's prediction is predict's (batched there, one molecule at a time here)
        # (to float32 rounding: predict's values are float32, up to ~10² here)
        np.testing.assert_allclose(
            explanation.prediction, row[["logp", "qed", "tpsa"]].astype(float), atol=1e-5, rtol=1e-6
        )
        spread.append(contributions["logp"].std())
    assert np.mean(spread) > 1e-3  # the atoms do not all contribute the same


def test_mean_pooling_divides_each_atom_by_the_number_of_atoms():
    predictor = make_predictor(pooling="mean", targets=1)
    explanation = predictor.explain("CC(=O)Nc1ccc(O)cc1")
    graph_nodes = _node_outputs(predictor, "CC(=O)Nc1ccc(O)cc1")
    expected = graph_nodes[:, 0] / len(graph_nodes) * STD[0]
    np.testing.assert_allclose(explanation.atom_contributions["logp"], expected, atol=1e-6)


def _node_outputs(predictor, smiles):
    from torch_geometric.data import Batch

    from cgt.data import featurize_smiles

    batch = Batch.from_data_list([featurize_smiles(smiles, predictor.featurizer)])
    with torch.no_grad():
        return predictor.model.node_outputs(batch).double().numpy()


def test_atom_featurizer_model_and_one_target(smiles):
    predictor = make_predictor(featurizer="atom", targets=2, pooling="mean", seed=1)
    explanation = predictor.explain(smiles[0], target="qed")
    assert explanation.target_names == ["qed"]
    assert list(explanation.atom_contributions.columns) == ["atom", "element", "qed"]
    expected = predictor.predict(smiles[0])["qed"].iloc[0]
    assert explanation.prediction["qed"] == pytest.approx(expected, abs=1e-5)
    assert explanation.explained["qed"] == pytest.approx(expected, abs=1e-5)
    assert predictor.explain(smiles[0], target=1).target_names == ["qed"]
    with pytest.raises(ValueError, match="unknown target"):
        predictor.explain(smiles[0], target="nope")


def test_classification_explains_the_logit(smiles):
    predictor = make_predictor(task="classification", targets=2)
    for explanation in predictor.explain_many(smiles[:10]):
        probability = predictor.predict(explanation.smiles)[["logp", "qed"]].iloc[0]
        np.testing.assert_allclose(explanation.prediction, probability, atol=1e-5)
        logit = explanation.explained
        np.testing.assert_allclose(1 / (1 + np.exp(-logit)), probability, atol=1e-5)
        assert (explanation.constant == 0).all()


def test_attention_rows_sum_to_one(smiles):
    predictor = make_predictor(layers=3)
    for text in smiles[:10]:
        explanation = predictor.explain(text)
        n = explanation.num_atoms
        assert explanation.attention.shape == (3, n, n)
        assert (explanation.attention >= 0).all()
        np.testing.assert_allclose(explanation.attention.sum(-1), np.ones((3, n)), atol=1e-6)
    # not uniform: the weights depend on the pairs
    assert explanation.attention.std() > 1e-4


def test_attention_is_the_mean_over_heads_of_the_layer_weights():
    from torch_geometric.data import Batch

    from cgt.data import featurize_smiles

    predictor = make_predictor(layers=2)
    text = "c1ccccc1CCN"
    batch = Batch.from_data_list([featurize_smiles(text)])
    model = predictor.model
    with torch.no_grad():
        features = __import__("cgt.data.pairs", fromlist=["pair_features"]).pair_features(
            batch, model.steps
        )
        x = model.node_encoder(batch.atom_type, features.landing)
        pair_att, _ = model.pair_encoder(features, None)
        weights = model.layers[0].attention.attention_weights(x, pair_att, batch.ptr)
    n = batch.num_nodes
    expected = weights.mean(-1).view(n, n).double().numpy()
    np.testing.assert_allclose(predictor.explain(text).attention[0], expected, atol=1e-6)


def test_invalid_smiles(smiles):
    predictor = make_predictor()
    with pytest.raises(InvalidSmilesError, match="not a smiles"):
        predictor.explain("not a smiles")
    explanations = predictor.explain_many([smiles[0], "not a smiles", "", smiles[1]])
    assert [bool(e.error) for e in explanations] == [False, True, True, False]
    assert "invalid SMILES" in explanations[1].error
    assert explanations[1].prediction.isna().all() and explanations[1].num_atoms == 0
    with pytest.raises(ValueError, match="cannot draw"):
        explanations[1].draw()


def test_long_table_sums_to_the_prediction(smiles):
    explanation = make_predictor().explain(smiles[3])
    table = explanation.long_table()
    assert list(table.columns) == ["smiles", "atom", "element", "target", "contribution"]
    assert len(table) == 3 * (explanation.num_atoms + 1)
    constant = table[table["element"] == CONSTANT_ELEMENT]
    assert constant["atom"].isna().all() and len(constant) == 3
    sums = table.groupby("target")["contribution"].sum()
    np.testing.assert_allclose(sums[explanation.target_names], explanation.prediction, atol=1e-5)


@pytest.mark.parametrize("kind", ["atoms", "attention"])
def test_draw_png_and_svg(tmp_path, kind, smiles):
    explanation = make_predictor().explain(smiles[5])
    image = explanation.draw(kind=kind, size=(420, 360), path=tmp_path / "mol.png")
    assert image.format == "png" and image._repr_png_() == image.data
    with Image.open(tmp_path / "mol.png") as png:
        assert png.size == (420, 360)
        pixels = np.asarray(png.convert("RGB"), dtype=float)
    # coloured atoms: some pixels are far from grey
    assert (pixels.max(-1) - pixels.min(-1) > 80).sum() > 200
    with Image.open(io.BytesIO(image.data)) as again:
        assert again.size == (420, 360)

    svg = explanation.draw(kind=kind, atom=2, layer=0, path=tmp_path / "mol.svg", size=(300, 250))
    text = (tmp_path / "mol.svg").read_text()
    assert svg.format == "svg" and text == svg.data and svg._repr_svg_() == text
    assert "<svg" in text and "width='300px'" in text and "height='250px'" in text


def test_draw_rejects_bad_arguments(tmp_path, smiles):
    explanation = make_predictor(layers=2).explain(smiles[0])
    with pytest.raises(ValueError, match="suffix"):
        explanation.draw(path=tmp_path / "mol.jpg")
    with pytest.raises(ValueError, match="kind"):
        explanation.draw(kind="bonds")
    with pytest.raises(ValueError, match="layer"):
        explanation.draw(kind="attention", layer=2)
    with pytest.raises(ValueError, match="atom"):
        explanation.draw(kind="attention", atom=explanation.num_atoms)


def test_repr_is_short(smiles):
    predictor = make_predictor()
    text = repr(predictor.explain(smiles[0]))
    assert text.startswith("Explanation(") and "logp=" in text and len(text) < 300
    assert "error=" in repr(predictor.explain_many(["bad("])[0])


def test_explanation_is_exported():
    import cgt

    assert cgt.Explanation is Explanation
