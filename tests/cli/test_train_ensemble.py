"""``python -m cgt.train --ensemble N`` (cgt.cli.ensemble): members, manifest, metrics,
calibration on validation only, and resuming an interrupted ensemble."""

from __future__ import annotations

import json
import shutil
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from cgt.cli.ensemble import pop_ensemble_args
from cgt.cli.report import write_report
from cgt.cli.train import main as train_main
from cgt.cli.train import train
from cgt.data import CSVDataModule
from cgt.inference import load_model

EXAMPLE = files("cgt.data") / "files" / "examples" / "zinc_props.csv"
TINY = [
    "--trainer.limit_train_batches", "3",
    "--trainer.enable_progress_bar", "false",
    "--model.channels", "16",
    "--model.layers", "2",
    "--model.warmup_epochs", "1",
    "--data.init_args.target_columns", "[logp]",
]  # fmt: skip


def run(root, data, epochs: int) -> dict:
    train_main(
        [
            "--config", "csv-example.yaml", *TINY,
            "--trainer.default_root_dir", str(root),
            "--data.init_args.path", str(data),
            "--trainer.max_epochs", str(epochs),
            "--ensemble", "2", "--mc_dropout", "3",
        ]
    )  # fmt: skip
    return json.loads((root / "metrics.json").read_text())


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    """A two-member ensemble of one epoch on a copy of the example CSV."""
    root = tmp_path_factory.mktemp("ensemble")
    data = root / "data.csv"
    shutil.copy(EXAMPLE, data)
    return root / "run", data, run(root / "run", data, epochs=1)


def test_members_manifest_and_metrics(ensemble):
    root, _, metrics = ensemble
    manifest = json.loads((root / "ensemble.json").read_text())
    assert manifest["members"] == [f"member_{k}/checkpoints/best.ckpt" for k in range(2)]
    assert manifest["seeds"] == [0, 1] and manifest["target_names"] == ["logp"]
    assert manifest["calibration"]["std_scale"][0] > 0
    members = metrics["member_metrics"]
    assert [m["seed"] for m in members] == [0, 1]
    assert members[0]["test_mae"] != members[1]["test_mae"]  # the members differ
    for k in range(2):
        assert (root / f"member_{k}" / "metrics.json").is_file()
    assert metrics["ensemble"]["calibration"] == manifest["calibration"]
    scores = metrics["ensemble"]["test_uncertainty"]["logp"]
    assert 0 <= scores["coverage_95"] <= 1 and np.isfinite(scores["nll"])
    assert len(metrics["mc_dropout"]["members"]) == 2 and metrics["mc_dropout"]["passes"] == 3
    for directory in (root, root / "member_0", root / "member_1"):
        for picture in ("parity_uncertainty_logp.png", "calibration_logp.png"):
            assert (directory / picture).read_bytes().startswith(b"\x89PNG")


def test_the_run_directory_predicts_the_scored_test_split(ensemble):
    root, _, metrics = ensemble
    saved = pd.read_csv(root / "test_predictions.csv")
    table = load_model(root).predict(saved["smiles"])
    np.testing.assert_allclose(table["logp"], saved["logp_pred"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(table["logp_std"], saved["logp_std"], rtol=1e-4, atol=1e-6)
    mae = np.nanmean(np.abs(saved["logp_pred"] - saved["logp"]))
    assert mae == pytest.approx(metrics["ensemble"]["test_mae"], rel=1e-6)
    member = load_model(root / "member_0" / "checkpoints" / "best.ckpt")
    assert member.checkpoint.calibration["spread"] == "mc_dropout"


def test_the_report_redraws_the_uncertainty_pictures(ensemble):
    root, _, _ = ensemble
    pictures = [root / "parity_uncertainty_logp.png", root / "calibration_logp.png"]
    for picture in pictures:
        picture.unlink()
    assert sorted(write_report(root)) == sorted(pictures)
    assert all(p.is_file() for p in pictures)


def test_resume_continues_unfinished_members_only(ensemble):
    root, data, _ = ensemble
    finished = (root / "member_0" / "metrics.json").read_text()
    (root / "member_1" / "metrics.json").unlink()  # member 1 "was killed" after epoch 1
    metrics = run(root, data, epochs=2)
    assert (root / "member_0" / "metrics.json").read_text() == finished  # not retrained
    resumed = json.loads((root / "member_1" / "metrics.json").read_text())
    assert resumed["resumed_from"].endswith("member_1/checkpoints/last.ckpt")
    assert resumed["epochs"] == 2
    assert metrics["member_metrics"][1]["test_mae"] != json.loads(finished)["test_mae"]


def test_calibration_does_not_see_test_targets(ensemble):
    root, data, before = ensemble
    before = json.loads((root / "metrics.json").read_text())
    module = CSVDataModule(data, ["logp"], featurizer="atom", split="scaffold")
    module.setup()
    test = module.datasets["test"]
    rows = np.asarray(test.dataset.rows[test.indices])
    table = pd.read_csv(data)
    table.loc[rows, "logp"] += 3.0  # every test target changes
    table.to_csv(data, index=False)
    after = run(root, data, epochs=2)
    assert after["ensemble"]["calibration"] == before["ensemble"]["calibration"]
    assert after["ensemble"]["test_mae"] != pytest.approx(before["ensemble"]["test_mae"])


def test_ensemble_arguments():
    assert pop_ensemble_args(["--config", "x", "--ensemble", "3"]) == (3, None, ["--config", "x"])
    assert pop_ensemble_args(["--ensemble=2", "--mc_dropout", "0"]) == (2, 0, [])
    assert pop_ensemble_args(["--config", "x"])[0] is None
    with pytest.raises(ValueError, match="--ensemble needs an integer >= 1, got '0'"):
        pop_ensemble_args(["--ensemble", "0"])
    assert pop_ensemble_args(["--mc_dropout", "5"]) == (None, 5, [])
    with pytest.raises(ValueError, match="--ckpt_path does not go with --ensemble"):
        train_main(["--config", "csv-example.yaml", "--ensemble", "2", "--ckpt_path", "last"])


def test_a_single_run_with_mc_dropout_is_calibrated(tmp_path):
    args = ["--config", "csv-example.yaml", *TINY, "--trainer.max_epochs", "1"]
    metrics = train([*args, "--trainer.default_root_dir", str(tmp_path), "--mc_dropout", "3"])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["mc_dropout"] == metrics["mc_dropout"] and saved["mc_dropout"]["passes"] == 3
    scale = saved["mc_dropout"]["std_scale"]
    model = load_model(tmp_path / "checkpoints" / "best.ckpt")
    assert model.checkpoint.calibration["std_scale"] == scale
    assert (tmp_path / "calibration_logp.png").is_file()
    (tmp_path / "calibration_logp.png").unlink()
    assert tmp_path / "calibration_logp.png" in write_report(tmp_path, splits=())
    assert not (tmp_path / "member_0").exists()
    plain = [
        "--trainer.default_root_dir",
        str(tmp_path / "plain"),
        "--model.attention_dropout",
        "0",
    ]
    with pytest.raises(ValueError, match="trained without dropout"):
        train_main([*args, *plain, "--mc_dropout", "3"])


def test_a_classification_ensemble_is_scored_without_calibration(tmp_path):
    classification = [
        *TINY[:-2],
        "--data.init_args.target_columns", "[polar]",
        "--data.init_args.task", "classification",
        "--trainer.max_epochs", "1",
    ]  # fmt: skip
    metrics = train(
        ["--config", "csv-example.yaml", *classification, "--trainer.default_root_dir",
         str(tmp_path), "--ensemble", "2", "--mc_dropout", "2"]
    )  # fmt: skip
    assert 0 <= metrics["ensemble"]["test_auroc"] <= 1
    assert metrics["ensemble"]["calibration"] is None
    assert all(0 <= m["test_auroc"] <= 1 for m in metrics["member_metrics"])
    assert json.loads((tmp_path / "ensemble.json").read_text())["calibration"] is None
    assert not list(tmp_path.glob("calibration_*.png"))
    table = load_model(tmp_path).predict(["CCO", "c1ccccc1O"])
    assert table.columns.tolist() == ["smiles", "polar", "polar_std", "error"]
