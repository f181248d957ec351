"""Prediction from checkpoints (cgt.inference): round trips, order, batching, metrics."""

from __future__ import annotations

import json
import zipfile

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import Batch

import cgt.inference
from cgt.checkpoint import CheckpointError
from cgt.cli.train import main as train_main
from cgt.data import ZINC, ZINCDataModule, featurize_smiles
from cgt.inference import load_model
from cgt.system import CGTModule

TINY = dict(channels=16, layers=2, heads=4, steps=8, warmup_epochs=1)
# Test molecules of the tiny CLI run: limit_test_batches x batch_size, in file order.
TEST_BATCHES, BATCH_SIZE = 3, 16


def zinc_test_smiles(count: int) -> tuple[list[str], np.ndarray]:
    data = ZINC("test")
    items = [data[i] for i in range(count)]
    return [item.smiles for item in items], np.array([float(item.y.flatten()[0]) for item in items])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A CGTModule trained a few steps in memory, and its checkpoint saved by Lightning."""
    root = tmp_path_factory.mktemp("inmemory")
    pl.seed_everything(0)
    module = CGTModule(**TINY)
    data = ZINCDataModule(batch_size=16)
    trainer = pl.Trainer(
        max_epochs=1,
        limit_train_batches=4,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )
    trainer.fit(module, datamodule=data)
    path = root / "model.ckpt"
    trainer.save_checkpoint(path)
    return module.eval(), path


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The tiny config trained through ``python -m cgt.train``; returns its metrics.json."""
    root = tmp_path_factory.mktemp("cli")
    train_main(
        [
            "--config", "zinc-tiny.yaml",
            "--trainer.default_root_dir", str(root),
            "--trainer.enable_progress_bar", "false",
            "--trainer.limit_test_batches", str(TEST_BATCHES),
            "--data.init_args.batch_size", str(BATCH_SIZE),
        ]
    )  # fmt: skip
    return json.loads((root / "metrics.json").read_text())


def test_round_trip_equals_in_memory_model(trained):
    module, path = trained
    smiles, _ = zinc_test_smiles(20)
    batch = Batch.from_data_list([featurize_smiles(s) for s in smiles])
    with torch.no_grad():
        expected = module(batch).numpy()[:, 0]
    got = load_model(path).predict(smiles)
    assert got["smiles"].tolist() == smiles
    assert (got["error"] == "").all()
    np.testing.assert_allclose(got["y"].to_numpy(), expected, rtol=1e-5, atol=1e-5)


def test_predictions_reproduce_test_mae_of_metrics_json(cli_run):
    count = TEST_BATCHES * BATCH_SIZE
    smiles, target = zinc_test_smiles(count)
    predictor = load_model(cli_run["best_checkpoint"])
    predicted = predictor.predict(smiles, batch_size=7)["y"].to_numpy()
    mae = float(np.abs(predicted - target).mean())
    assert mae == pytest.approx(cli_run["test_mae"], abs=1e-4)


def test_invalid_rows_keep_their_place(trained):
    _, path = trained
    predictor = load_model(path)
    valid = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C"]
    inputs = [valid[0], "", "C1CC", valid[1], None, "[Na+].[Cl-]", valid[2], "  ", valid[3]]
    table = predictor.predict(inputs, batch_size=2)
    assert table["smiles"].tolist() == inputs
    errors = table["error"].tolist()
    assert [e == "" for e in errors] == [True, False, False, True, False, False, True, False, True]
    assert "empty SMILES" in errors[1] and "empty SMILES" in errors[7]
    assert errors[2].startswith("invalid SMILES")
    assert "missing SMILES" in errors[4]
    assert "vocabulary" in errors[5] and "Na" in errors[5]
    assert all("\n" not in e for e in errors)
    assert table["y"].isna().tolist() == [e != "" for e in errors]
    alone = predictor.predict(valid)["y"].to_numpy()
    np.testing.assert_allclose(table.loc[table["error"] == "", "y"].to_numpy(), alone, rtol=1e-5)


def test_results_do_not_depend_on_batching(trained):
    _, path = trained
    predictor = load_model(path)
    smiles, _ = zinc_test_smiles(40)
    reference = predictor.predict(smiles, batch_size=40)["y"].to_numpy()
    for batch_size in (1, 3, 16):
        got = predictor.predict(smiles, batch_size=batch_size)["y"].to_numpy()
        np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-5)
    order = np.random.default_rng(0).permutation(len(smiles))
    shuffled = predictor.predict([smiles[i] for i in order], batch_size=8)["y"].to_numpy()
    np.testing.assert_allclose(shuffled, reference[order], rtol=1e-5, atol=1e-5)


def test_single_string_and_convenience_function(trained):
    _, path = trained
    one = load_model(path).predict("c1ccccc1O")
    assert isinstance(one, pd.DataFrame) and len(one) == 1
    again = cgt.inference.predict(["CCO", "c1ccccc1O"], checkpoint=path)
    assert again["y"].iloc[1] == pytest.approx(one["y"].iloc[0], rel=1e-6)


def test_a_molecule_the_model_fails_on_does_not_take_its_batch(trained, monkeypatch):
    _, path = trained
    predictor = load_model(path)
    forward = predictor.model.forward

    def fragile(batch):
        if (batch.atom_type == 3).any():  # fluorine
            raise RuntimeError("simulated failure")
        return forward(batch)

    monkeypatch.setattr(predictor.model, "forward", fragile)
    table = predictor.predict(["CCO", "CCF", "c1ccccc1O"], batch_size=3)
    assert table["error"].tolist()[0] == table["error"].tolist()[2] == ""
    assert "simulated failure" in table["error"].iloc[1] and np.isnan(table["y"].iloc[1])
    assert np.isfinite(table["y"].iloc[[0, 2]]).all()


def test_checkpoint_metadata_is_complete(trained):
    _, path = trained
    predictor = load_model(path)
    info = predictor.checkpoint
    assert info.featurizer == "zinc" and info.task == "regression"
    assert info.target_names == ("y",) and info.model_config["channels"] == 16
    assert "CGTPredictor" in repr(predictor)
    assert not predictor.model.training


def cuda_tagged_copy(path, target):
    """``path`` rewritten so that every tensor says it was saved on ``cuda:0``."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith("data.pkl"):
                # pickle protocol 2: BINUNICODE 'X', a 4-byte length, then the text
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            out.writestr(item, data)
    return target


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks loading without a GPU")
def test_gpu_checkpoint_loads_on_cpu(trained, tmp_path):
    _, path = trained
    gpu = cuda_tagged_copy(path, tmp_path / "gpu.ckpt")
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(gpu, weights_only=True)  # the file really asks for a GPU
    expected = load_model(path).predict(["CCO", "c1ccccc1O"])
    got = load_model(gpu).predict(["CCO", "c1ccccc1O"])
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error(trained):
    _, path = trained
    with pytest.raises(ValueError, match="CUDA is not available"):
        load_model(path, device="cuda")


def test_refuses_weights_that_do_not_fit(trained, tmp_path):
    _, path = trained
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["cgt"]["model_config"]["channels"] = 32
    torch.save(checkpoint, tmp_path / "mismatch.ckpt")
    with pytest.raises(CheckpointError, match="mismatch.ckpt.*do not fit"):
        load_model(tmp_path / "mismatch.ckpt")


def test_refuses_a_changed_vocabulary(trained, tmp_path):
    _, path = trained
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["cgt"]["vocabulary"]["atom_types"] = ["C", "N", "O"]
    torch.save(checkpoint, tmp_path / "vocab.ckpt")
    with pytest.raises(CheckpointError, match="vocab.ckpt.*different vocabulary"):
        load_model(tmp_path / "vocab.ckpt")


def test_refuses_a_plain_torch_file(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match=r"plain\.pt.*not a cgt checkpoint"):
        load_model(tmp_path / "plain.pt")


def test_never_predicts_a_molecule_the_user_did_not_write(trained):
    """RDKit reads "Cé" as methane and "CCé" as ethane; both must be refused, not predicted."""
    _, path = trained
    inputs = ["Cé", "CCé", "C C", "C", "C\udc80", "C" * 60 + "ccⲘ", "CC"]
    table = load_model(path).predict(inputs, batch_size=3)
    assert table["smiles"].tolist() == inputs
    errors = table["error"].tolist()
    assert [e == "" for e in errors] == [False, False, False, True, False, False, True]
    assert "non-ASCII" in errors[0] and "non-ASCII" in errors[1] and "whitespace" in errors[2]
    assert "non-ASCII" in errors[4] and "non-ASCII" in errors[5]
    assert table["y"].isna().tolist() == [e != "" for e in errors]


def test_a_molecule_above_max_atoms_gets_a_row_error(trained):
    _, path = trained
    predictor = load_model(path)
    inputs = ["CCO", "C" * 40, "c1ccccc1O"]
    table = predictor.predict(inputs, max_atoms=30)
    errors = table["error"].tolist()
    assert errors[0] == errors[2] == "" and "40 atoms, more than max_atoms=30" in errors[1]
    assert table["y"].isna().tolist() == [False, True, False]
    assert table["error"].iloc[1].count("\n") == 0
    assert predictor.predict(inputs, max_atoms=40)["error"].tolist() == ["", "", ""]


def test_batches_are_cut_by_pairs_without_changing_results(trained, monkeypatch):
    """A large molecule among small ones runs in a batch of its own (max_pairs)."""
    _, path = trained
    predictor = load_model(path)
    smiles, _ = zinc_test_smiles(12)
    inputs = smiles[:5] + ["C" * 60] + smiles[5:]
    reference = predictor.predict(inputs, batch_size=1)["y"].to_numpy()
    seen: list[list[int]] = []
    original = predictor._predict_graphs

    def record(graphs, *args):
        seen.append([g.num_nodes for g in graphs])
        return original(graphs, *args)

    monkeypatch.setattr(predictor, "_predict_graphs", record)
    got = predictor.predict(inputs, batch_size=32, max_pairs=60 * 60)["y"].to_numpy()
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-5)
    assert [60] in seen  # alone
    assert all(sum(n * n for n in batch) <= 3600 for batch in seen if batch != [60])
    assert len(seen) >= 3
