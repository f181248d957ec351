"""The pretrained model shipped in the package: present, offline, and the trained one."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

import cgt
from cgt.data.descriptors import descriptor_table

NAME = "zinc-descriptors-v1"
REFERENCE = Path(__file__).parent / "reference" / f"{NAME}.json"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def model():
    return cgt.load_model(NAME)


def test_it_is_listed_with_its_card():
    (entry,) = [m for m in cgt.pretrained() if m.name == NAME]
    assert entry.featurizer == "atom"
    assert entry.card is not None and entry.card.is_file()
    assert entry.bytes < 5_000_000  # "a few MB at most"
    assert "scripts/pretrain.py" in entry.command


def test_it_loads_by_name_offline_and_embeds_as_its_saved_reference(reference, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    model = cgt.load_model(NAME)
    got = model.embed(reference["smiles"], numpy=True)
    np.testing.assert_allclose(got, np.array(reference["embeddings"]), rtol=1e-4, atol=1e-4)
    predicted = model.predict(reference["smiles"])[reference["target_names"]].to_numpy()
    np.testing.assert_allclose(predicted, np.array(reference["predictions"]), rtol=1e-4, atol=1e-3)


def test_it_predicts_rdkit_descriptors_of_unseen_molecules(model):
    # ZINC-12k test molecules are in ZINC-full's test split, which pretraining never fits.
    import gzip
    from importlib.resources import files

    source = files("cgt.data") / "files" / "zinc" / "zinc12k.csv.gz"
    with gzip.open(source.open("rb"), "rt") as handle:
        rows = [line.split(",") for line in handle.read().splitlines()[1:]]
    smiles = [row[2] for row in rows if row[0] == "test"][:60]
    # Size, shape and polarisability descriptors, which it learned well (validation R² of
    # 0.97-0.99, cgt/weights/zinc-descriptors-v1.md); a random or other model fails this.
    names = ["MolWt", "NumValenceElectrons", "Chi1", "MolMR", "HallKierAlpha", "BertzCT"]
    truth = descriptor_table(smiles, names)
    predicted = model.predict(smiles)[names].to_numpy()
    r2 = 1 - ((truth - predicted) ** 2).mean(0) / truth.var(0)
    assert (r2 > 0.9).all(), dict(zip(names, r2.round(3), strict=True))


def test_its_186_columns_are_built_without_pandas_warnings(model):
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        table = model.predict(["CCO", "not a molecule"])
    assert list(table.columns) == ["smiles", *model.target_names, "error"]
    assert table["error"].iloc[1] and not table["error"].iloc[0]
