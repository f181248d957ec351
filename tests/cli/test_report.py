"""Pictures of a training run: written by ``python -m cgt.train`` at the end and by
``python -m cgt.report RUN_DIR`` (cgt.cli.report, cgt.figures)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torchmetrics.functional.classification import binary_auroc

from cgt.cli.report import EXIT_OK, EXIT_USAGE, main, write_report
from cgt.cli.train import train
from cgt.figures import epoch_table, regression_scores, roc_curve
from cgt.inference import load_model

QUIET = ["--trainer.enable_progress_bar", "false"]


def assert_png(path, min_size=(300, 250)):
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 5  # not blank


@pytest.fixture(scope="module")
def zinc_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-run")
    train(["--config", "zinc-tiny.yaml", "--trainer.default_root_dir", str(root), *QUIET])
    return root


def test_training_writes_the_pictures(zinc_run):
    for name in ("learning_curves.png", "parity_val.png", "parity_test.png"):
        assert_png(zinc_run / name)
    test = pd.read_csv(zinc_run / "predictions_test.csv")
    assert list(test.columns) == ["smiles", "y", "y_pred"] and len(test) == 1000  # ZINC 12k
    # the predictions are the best checkpoint's
    model = load_model(zinc_run / "checkpoints" / "best.ckpt")
    expected = model.predict(test["smiles"].head(20).tolist())["y"].to_numpy()
    np.testing.assert_allclose(test["y_pred"].head(20), expected, rtol=1e-5, atol=1e-5)


def test_cgt_report_redraws_an_existing_run(zinc_run):
    for path in zinc_run.glob("*.png"):
        path.unlink()
    stale = (zinc_run / "predictions_test.csv").read_text()
    (zinc_run / "predictions_test.csv").unlink()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cgt.report",
            str(zinc_run),
            "--units",
            "y=logP units",
            "--threads",
            "1",
            "--splits",
            "test",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "learning_curves.png" in result.stderr
    for name in ("learning_curves.png", "parity_test.png"):
        assert_png(zinc_run / name)
    assert not (zinc_run / "parity_val.png").exists()  # --splits test
    assert (zinc_run / "predictions_test.csv").read_text() == stale  # same model, same split


def test_report_usage_errors(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == EXIT_USAGE
    assert "does not exist" in capsys.readouterr().err
    assert main([str(tmp_path)]) == EXIT_USAGE  # an empty directory: nothing to draw
    assert "nothing to draw" in capsys.readouterr().err


def test_classification_run_without_a_test_split(tmp_path):
    notes = []
    train(
        [
            "--config", "csv-example.yaml",
            "--trainer.default_root_dir", str(tmp_path),
            "--trainer.max_epochs", "2",
            "--data.init_args.target_columns", "[polar]",
            "--data.init_args.task", "classification",
            "--data.init_args.split", "random",
            "--data.init_args.split_sizes", "[0.8, 0.2, 0.0]",
            *QUIET,
        ]
    )  # fmt: skip
    assert_png(tmp_path / "learning_curves.png")
    assert_png(tmp_path / "roc_val.png")
    assert not (tmp_path / "roc_test.png").exists()
    assert not list(tmp_path.glob("parity_*"))
    written = write_report(tmp_path, log=notes.append)
    assert [p.name for p in written] == [
        "learning_curves.png",
        "predictions_val.csv",
        "roc_val.png",
    ]
    assert any("no test split" in n for n in notes)
    val = pd.read_csv(tmp_path / "predictions_val.csv")
    assert val["polar_pred"].between(0, 1).all()


def test_epoch_table_joins_resumed_launches_and_places_the_learning_rate():
    first = pd.DataFrame(
        {
            "epoch": [np.nan, 0, 0, np.nan, 1, 1],
            "step": [0, 3, 3, 4, 7, 7],
            "lr-AdamW": [0.1, np.nan, np.nan, 0.2, np.nan, np.nan],
            "train_loss_step": [np.nan, 5.0, np.nan, np.nan, 4.0, np.nan],
            "train_loss_epoch": [np.nan, np.nan, 5.0, np.nan, np.nan, 4.0],
            "val_mae": [np.nan, 3.0, np.nan, np.nan, 2.5, np.nan],
        }
    )
    resumed = pd.DataFrame(
        {
            "epoch": [np.nan, 1, 1],
            "step": [4, 7, 7],
            "lr-AdamW": [0.25, np.nan, np.nan],
            "train_loss_epoch": [np.nan, np.nan, 3.5],
            "val_mae": [np.nan, 2.0, np.nan],
        }
    )
    table = epoch_table([first, resumed])
    assert list(table.index) == [0, 1]
    assert "train_loss_step" not in table and "step" not in table
    assert table.loc[0, "lr-AdamW"] == 0.1 and table.loc[1, "lr-AdamW"] == 0.25
    assert table.loc[1, "train_loss_epoch"] == 3.5 and table.loc[1, "val_mae"] == 2.0
    assert table.loc[0, "val_mae"] == 3.0


def test_scores():
    gen = np.random.default_rng(0)
    labels = gen.integers(0, 2, 200).astype(float)
    scores = np.round(labels * 0.3 + gen.random(200), 1)  # ties
    labels[:5] = np.nan
    fpr, tpr, auroc = roc_curve(labels, scores)
    known = ~np.isnan(labels)
    expected = binary_auroc(torch.tensor(scores[known]), torch.tensor(labels[known]).long())
    assert auroc == pytest.approx(float(expected), abs=1e-6)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert np.isnan(roc_curve(np.ones(4), np.arange(4.0))[2])
    r = regression_scores(np.array([1.0, 2.0, 3.0, np.nan]), np.array([1.0, 2.5, 2.0, 9.0]))
    assert r["n"] == 3 and r["mae"] == pytest.approx(0.5)
    assert r["rmse"] == pytest.approx(np.sqrt(1.25 / 3))
    assert r["r2"] == pytest.approx(1 - 1.25 / 2)
