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
    truth = descriptor_table(smiles, model.target_names)
    predicted = model.predict(smiles)[model.target_names].to_numpy()
    r2 = []
    for j in range(truth.shape[1]):
        known = ~np.isnan(truth[:, j])
        spread = truth[known, j].var()
        if spread > 0:
            r2.append(1 - ((truth[known, j] - predicted[known, j]) ** 2).mean() / spread)
    assert np.median(r2) > 0.8, f"median R² over {len(r2)} descriptors: {np.median(r2):.3f}"
