"""Prediction with uncertainty: ensembles of checkpoints (cgt.ensemble_predictor) and Monte
Carlo dropout (cgt.mc_dropout) through cgt.load_model / predict."""

from __future__ import annotations

import json

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from cgt.checkpoint import CheckpointError
from cgt.data import ZINC, ZINCDataModule
from cgt.ensemble import write_manifest
from cgt.ensemble_predictor import EnsemblePredictor
from cgt.inference import load_model
from cgt.mc_dropout import dropout_active, has_dropout
from cgt.system import CGTModule

TINY = dict(channels=16, layers=2, heads=4, steps=8, warmup_epochs=1)
SMILES = [item.smiles for item in (ZINC("test")[i] for i in range(12))]


def train_checkpoint(path, seed: int, **options) -> str:
    """A tiny CGT trained two batches with ``seed``, saved at ``path``."""
    pl.seed_everything(seed)
    module = CGTModule(**{**TINY, **options})
    trainer = pl.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=path.parent,
    )
    trainer.fit(module, datamodule=ZINCDataModule(batch_size=16))
    trainer.save_checkpoint(path)
    return str(path)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Three members (seeds 0-2, attention dropout 0.5), one without dropout, one for
    another target."""
    root = tmp_path_factory.mktemp("members")
    members = [train_checkpoint(root / f"m{k}.ckpt", k) for k in range(3)]
    plain = train_checkpoint(root / "plain.ckpt", 7, attention_dropout=0.0)
    other = train_checkpoint(root / "other.ckpt", 8, target_names=["z"])
    return {"members": members, "plain": plain, "other": other}


def test_ensemble_mean_and_std_are_the_members(checkpoints):
    singles = [load_model(p).predict(SMILES)["y"].to_numpy() for p in checkpoints["members"]]
    assert not np.allclose(singles[0], singles[1], atol=1e-3)  # members differ
    ensemble = load_model(checkpoints["members"])
    assert isinstance(ensemble, EnsemblePredictor) and len(ensemble.members) == 3
    table = ensemble.predict(SMILES, batch_size=5)
    assert table.columns.tolist() == ["smiles", "y", "y_std", "error"]
    np.testing.assert_allclose(table["y"], np.mean(singles, axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(table["y_std"], np.std(singles, axis=0), rtol=1e-4, atol=1e-5)
    assert (table["y_std"] > 0).all()


def test_an_ensemble_refuses_to_explain(checkpoints):
    ensemble = load_model(checkpoints["members"][:2])
    with pytest.raises(ValueError, match="explain one member"):
        ensemble.explain("CCO")
    with pytest.raises(ValueError, match="explain one member"):
        ensemble.explain_many(["CCO"])
    assert ensemble.members[0].explain("CCO").prediction is not None


def test_one_member_ensemble_has_zero_std(checkpoints):
    table = load_model(checkpoints["members"][:1]).predict(SMILES)
    single = load_model(checkpoints["members"][0]).predict(SMILES)
    assert (table["y_std"] == 0).all()
    np.testing.assert_allclose(table["y"], single["y"], rtol=1e-6)
    assert "y_std" not in single.columns  # a plain checkpoint predicts as before


def test_featurizes_each_molecule_once(checkpoints, monkeypatch):
    ensemble = load_model(checkpoints["members"])
    calls = []
    featurize = ensemble.featurize
    def counting(smiles, *args, **kwargs):
        calls.append(len(smiles))
        return featurize(smiles, *args, **kwargs)

    monkeypatch.setattr(ensemble, "featurize", counting)
    ensemble.predict(SMILES, batch_size=4)
    assert sum(calls) == len(SMILES)


def test_a_mixed_list_is_refused(checkpoints):
    with pytest.raises(ValueError, match="other.ckpt has target_names .*'z'.*same targets"):
        load_model([checkpoints["members"][0], checkpoints["other"]])
    with pytest.raises(ValueError, match="list is empty"):
        load_model([])


def test_bad_rows_keep_nan_mean_and_std_with_the_reason(checkpoints):
    table = load_model(checkpoints["members"]).predict(["CCO", "not a smiles", "", "c1ccccc1O"])
    assert table[["y", "y_std"]].isna().all(axis=1).tolist() == [False, True, True, False]
    assert table["error"].iloc[1].startswith("invalid SMILES")
    assert "empty SMILES" in table["error"].iloc[2]


def test_run_directory_with_manifest_applies_its_calibration(checkpoints, tmp_path):
    members = load_model(checkpoints["members"])
    raw = members.predict(SMILES)
    info = members.members[0].checkpoint
    write_manifest(tmp_path, checkpoints["members"], info, {"std_scale": [2.5]}, seeds=[0, 1, 2])
    assert json.loads((tmp_path / "ensemble.json").read_text())["members"][0].startswith("..")
    ensemble = load_model(tmp_path)
    calibrated = ensemble.predict(SMILES)
    np.testing.assert_allclose(calibrated["y_std"], 2.5 * raw["y_std"], rtol=1e-6)
    np.testing.assert_allclose(calibrated["y"], raw["y"], rtol=1e-6)
    np.testing.assert_allclose(ensemble.predict(SMILES, calibrated=False)["y_std"], raw["y_std"])
    with pytest.raises(CheckpointError, match="a directory, not a checkpoint file, and has no"):
        load_model(tmp_path / "..")


def test_mc_dropout_with_one_pass_and_no_dropout_is_plain_predict(checkpoints):
    predictor = load_model(checkpoints["plain"])
    assert not has_dropout(predictor.model)
    plain = predictor.predict(SMILES)
    once = predictor.predict(SMILES, mc_dropout=1)
    np.testing.assert_array_equal(once["y"], plain["y"])
    assert (once["y_std"] == 0).all()


def test_mc_dropout_samples_with_dropout_on_and_batchnorm_off(checkpoints):
    predictor = load_model(checkpoints["members"][0])
    assert has_dropout(predictor.model)
    plain = predictor.predict(SMILES)
    torch.manual_seed(0)
    sampled = predictor.predict(SMILES, mc_dropout=8)
    assert (sampled["y_std"] > 0).all()
    assert not np.allclose(sampled["y"], plain["y"])
    assert not predictor.model.training  # the mode is restored
    with dropout_active(predictor.model) as model:
        kinds = {type(m).__name__: m.training for m in model.modules()}
    assert kinds["BatchNorm1d"] is False and kinds["Dropout"] is True
    assert kinds["ChromaticSelfAttention"] is True
    with pytest.raises(ValueError, match="mc_dropout must be"):
        predictor.predict(SMILES, mc_dropout=-1)


def test_mc_dropout_of_an_ensemble_samples_every_member(checkpoints):
    ensemble = load_model(checkpoints["members"][:2])
    assert ensemble.num_samples(mc_dropout=3) == 6
    table = ensemble.predict(SMILES[:3], mc_dropout=3)
    assert np.isfinite(table[["y", "y_std"]].to_numpy()).all()


def test_classification_ensemble_averages_probabilities(tmp_path):
    paths = []
    for seed in range(3):
        torch.manual_seed(seed)
        module = CGTModule(**TINY, task="classification", target_names=["active"])
        paths.append(tmp_path / f"c{seed}.ckpt")
        torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata()}, paths[-1])
    singles = np.array([load_model(p).predict(SMILES)["active"] for p in paths])
    table = load_model(paths).predict(SMILES)
    assert ((table["active"] > 0) & (table["active"] < 1)).all()
    np.testing.assert_allclose(table["active"], singles.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(table["active_std"], singles.std(axis=0), rtol=1e-4, atol=1e-6)
