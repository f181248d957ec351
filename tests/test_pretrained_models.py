"""The pretrained-model registry (cgt.pretrained_models) on a temporary weights folder: listing,
lookup by name, checksums, loading by name offline, fine-tuning by name, and the export of
scripts/pretrain.py writing exactly its schema."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import socket
from pathlib import Path

import pytest
import torch

import cgt
from cgt import pretrained_models
from cgt.checkpoint import CheckpointError
from cgt.inference import load_model
from cgt.pretrained_models import FIELDS, pretrained, pretrained_path, resolve_checkpoint
from cgt.system import CGTModule

REPO = Path(__file__).resolve().parent.parent
ARCH = dict(channels=8, layers=2, heads=2, steps=4)
NAME = "tiny-v1"


def write_model(folder: Path, name: str = NAME) -> CGTModule:
    """A tiny regression model and its metadata and card, as the registry expects them."""
    torch.manual_seed(0)
    module = CGTModule(**ARCH, target_names=["logp"])
    module.target_mean.fill_(2.0)
    module.target_std.fill_(1.5)
    path = folder / f"{name}.ckpt"
    torch.save({"cgt": module.cgt_metadata(), "state_dict": module.state_dict(), "epoch": 3},
               path)  # fmt: skip
    data = path.read_bytes()
    metadata = {
        "name": name,
        "description": "a tiny test model",
        "training_data": "nothing",
        "featurizer": "zinc",
        "task": "regression",
        "targets": 1,
        "parameters": module.num_parameters,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "licence": "MIT",
        "cgt_version": cgt.__version__,
        "command": "written by tests/test_pretrained_models.py",
        "model_config": module.model.config,
        "metrics": {"val_mae": 0.5},
        "training": {"epochs": 3},
    }
    (folder / f"{name}.json").write_text(json.dumps(metadata))
    (folder / f"{name}.md").write_text(f"# {name}\n")
    return module


@pytest.fixture
def weights(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setattr(pretrained_models, "WEIGHTS", folder)
    return folder


def test_pretrained_lists_the_models_of_the_folder(weights):
    assert pretrained() == []
    module = write_model(weights)
    models = cgt.pretrained()
    assert [m.name for m in models] == [NAME]
    model = models[0]
    assert model.featurizer == "zinc" and model.task == "regression" and model.targets == 1
    assert model.parameters == module.num_parameters and model.card == weights / f"{NAME}.md"
    assert model.checkpoint == weights / f"{NAME}.ckpt"
    assert model.bytes == model.checkpoint.stat().st_size
    table = str(models).splitlines()
    assert table[0].split() == ["name", "featurizer", "targets", "parameters", "size",
                                "description"]  # fmt: skip
    assert table[1].startswith(NAME) and "a tiny test model" in table[1]
    assert NAME in repr(model) and "parameters" in repr(model)


def test_pretrained_path_finds_a_model_by_name(weights):
    write_model(weights)
    assert pretrained_path(NAME) == weights / f"{NAME}.ckpt"
    assert resolve_checkpoint(NAME) == weights / f"{NAME}.ckpt"


def test_an_unknown_name_lists_the_available_ones(weights):
    write_model(weights)
    write_model(weights, "other-v2")
    with pytest.raises(ValueError, match=r"no pretrained model named 'nope'; available: other-v2, "
                       r"tiny-v1"):  # fmt: skip
        pretrained_path("nope")
    with pytest.raises(FileNotFoundError, match=r"nope.ckpt does not exist.*other-v2, tiny-v1"):
        resolve_checkpoint("nope.ckpt")


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_corrupt_or_truncated_checkpoint_is_detected(weights, damage):
    write_model(weights)
    path = weights / f"{NAME}.ckpt"
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data = data[:-100]
    path.write_bytes(bytes(data))
    expected = "SHA-256" if damage == "flip" else "bytes"
    with pytest.raises(CheckpointError, match=rf"tiny-v1\.ckpt .*{expected}"):
        pretrained_path(NAME)
    with pytest.raises(CheckpointError, match=r"tiny-v1\.ckpt"):
        load_model(NAME)


def test_a_missing_checkpoint_is_named(weights):
    write_model(weights)
    (weights / f"{NAME}.ckpt").unlink()
    with pytest.raises(FileNotFoundError, match=r"tiny-v1\.ckpt is missing"):
        pretrained_path(NAME)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"licence": None}, "missing fields \\['licence'\\]"),
        ({"extra": 1}, "unknown fields \\['extra'\\]"),
        ({"bytes": "12"}, "'bytes' must be a JSON integer"),
        ({"name": "other"}, "'name' is 'other' but the file is tiny-v1.json"),
    ],
)
def test_malformed_metadata_is_refused_naming_the_file(weights, change, message):
    write_model(weights)
    path = weights / f"{NAME}.json"
    metadata = json.loads(path.read_text())
    for key, value in change.items():
        if value is None:
            del metadata[key]
        else:
            metadata[key] = value
    path.write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match=rf"tiny-v1\.json .*{message}"):
        pretrained()


def test_load_model_by_name_works_offline(weights, monkeypatch):
    write_model(weights)
    expected = load_model(weights / f"{NAME}.ckpt").predict(["CCO", "c1ccccc1O"])

    def no_network(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    got = cgt.load_model(NAME).predict(["CCO", "c1ccccc1O"])
    assert got.equals(expected) and got["logp"].notna().all()


def test_the_predict_command_takes_a_name(weights, capsys):
    from cgt.cli.predict import EXIT_OK, main

    write_model(weights)
    assert main(["--checkpoint", NAME, "--smiles", "CCO"]) == EXIT_OK
    assert "logp" in capsys.readouterr().out


def test_an_existing_file_wins_over_a_name(weights, tmp_path, monkeypatch):
    write_model(weights)
    monkeypatch.chdir(tmp_path)
    Path(NAME).write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_model(NAME)


def test_init_from_takes_a_pretrained_name(weights):
    trained = write_model(weights)
    module = CGTModule(**ARCH, target_names=["logp"], init_from=NAME)
    for key, value in trained.model.state_dict().items():
        assert torch.equal(module.model.state_dict()[key], value), key


def test_the_export_of_pretrain_writes_exactly_the_registry_schema(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("pretrain", REPO / "scripts" / "pretrain.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script, "REPO", tmp_path)
    monkeypatch.setattr(pretrained_models, "WEIGHTS", tmp_path / "cgt" / "weights")
    run = tmp_path / "run"
    (run / "model" / "checkpoints").mkdir(parents=True)
    module = CGTModule(**ARCH, featurizer="atom", target_names=["MolWt", "TPSA"])
    torch.save({"cgt": module.cgt_metadata(), "state_dict": module.state_dict(), "epoch": 2,
                "optimizer_states": [{}]}, run / "model" / "checkpoints" / "best.ckpt")  # fmt: skip
    (run / "descriptors.json").write_text(json.dumps({"mean": [300.0, 60.0], "std": [80.0, 20.0]}))
    (run / "evaluation.json").write_text(json.dumps(
        {"mae_std_units_mean": 0.2, "r2_mean": 0.9, "r2_median": 0.95}))  # fmt: skip
    (run / "model" / "metrics.json").write_text(json.dumps(
        {"num_parameters": module.num_parameters, "epochs": 4, "fit_seconds": 10.0}))  # fmt: skip
    zinc_full = tmp_path / "zinc_full.csv.gz"
    zinc_full.write_bytes(gzip.compress(b"smiles,split\nCCO,train\n"))

    path = script.step_export(run, zinc_full)
    metadata = json.loads(path.with_suffix(".json").read_text())
    assert list(metadata) == list(FIELDS)
    assert pretrained_path(script.NAME) == path
    (model,) = pretrained()
    assert model.featurizer == "atom" and model.targets == 2 and model.metrics["val_r2_mean"] == 0.9
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"cgt", "state_dict", "epoch"}
    assert raw["cgt"]["target_mean"] == [300.0, 60.0]  # the fit's identity normalisation folded in
    assert load_model(script.NAME).predict(["CCO"])["MolWt"].notna().all()
