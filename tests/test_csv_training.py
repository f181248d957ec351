"""Training on a CSV end to end (configs/csv-example.yaml on the shipped example), then
predicting with the checkpoint: regression with missing targets, and classification."""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from cgt.cli.train import main as train_main
from cgt.data import CSVDataModule
from cgt.data.splits import scaffold
from cgt.inference import load_model

EXAMPLE = files("cgt.data") / "files" / "examples" / "zinc_props.csv"
# The example config with tiny settings: seconds, not a minute. Its data path is the bare
# name "zinc_props.csv", which finds the shipped example wherever the tests run.
TINY = [
    "--trainer.max_epochs", "2",
    "--trainer.limit_train_batches", "3",
    "--trainer.enable_progress_bar", "false",
    "--model.channels", "16",
    "--model.layers", "2",
    "--model.warmup_epochs", "1",
]  # fmt: skip


def train(root, *overrides: str) -> dict:
    train_main(
        ["--config", "csv-example.yaml", "--trainer.default_root_dir", str(root), *TINY, *overrides]
    )
    return json.loads((root / "metrics.json").read_text())


def datamodule(**overrides) -> CSVDataModule:
    """The example config's data module (same split), set up."""
    args = dict(
        path=str(EXAMPLE),
        target_columns=["logp", "tpsa"],
        featurizer="atom",
        split="scaffold",
        split_sizes=(0.8, 0.1, 0.1),
        data_seed=0,
    )
    module = CSVDataModule(**{**args, **overrides})
    module.setup("fit")
    return module


def split_rows(module: CSVDataModule, split: str) -> pd.DataFrame:
    """The rows of the example CSV in one split of ``module``, in split order."""
    subset = module.datasets[split]
    rows = subset.dataset.rows[subset.indices]
    return pd.read_csv(EXAMPLE).iloc[np.asarray(rows)].reset_index(drop=True)


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    return train(tmp_path_factory.mktemp("csv-regression"))


@pytest.fixture(scope="module")
def classification(tmp_path_factory):
    return train(
        tmp_path_factory.mktemp("csv-classification"),
        "--data.init_args.target_columns", "[polar]",
        "--data.init_args.task", "classification",
    )  # fmt: skip


def test_example_csv_has_missing_targets():
    table = pd.read_csv(EXAMPLE)
    assert len(table) == 400
    assert table[["logp", "tpsa", "polar"]].isna().sum().tolist() == [20, 16, 14]
    known = table.dropna(subset=["tpsa", "polar"])
    assert ((known["tpsa"] > 60) == (known["polar"] == 1)).all()


def test_example_scaffold_split_keeps_scaffolds_apart():
    module = datamodule()
    scaffolds = {
        split: {scaffold(s) for s in split_rows(module, split)["smiles"]}
        for split in ("train", "val", "test")
    }
    sizes = {split: len(module.datasets[split]) for split in scaffolds}
    assert sizes["train"] > 250 and sizes["val"] > 20 and sizes["test"] > 20
    assert not scaffolds["train"] & scaffolds["test"]
    assert not scaffolds["train"] & scaffolds["val"]
    assert not scaffolds["val"] & scaffolds["test"]


def test_regression_checkpoint_carries_train_only_normalisation(regression):
    predictor = load_model(regression["best_checkpoint"])
    info = predictor.checkpoint
    assert info.featurizer == "atom" and info.task == "regression"
    assert info.target_names == ("logp", "tpsa")
    train = split_rows(datamodule(), "train")
    np.testing.assert_allclose(info.target_mean, train[["logp", "tpsa"]].mean(), rtol=1e-5)
    whole = pd.read_csv(EXAMPLE)[["logp", "tpsa"]].mean()
    assert not np.allclose(info.target_mean, whole, rtol=1e-4)  # train rows only
    assert info.config["data"]["init_args"]["split"] == "scaffold"


def test_regression_predictions_reproduce_test_mae(regression):
    test = split_rows(datamodule(), "test")
    predicted = load_model(regression["best_checkpoint"]).predict(test["smiles"], batch_size=5)
    assert (predicted["error"] == "").all()
    truth = test[["logp", "tpsa"]].to_numpy()
    known = ~np.isnan(truth)
    assert not known.all()  # missing targets are part of the test split
    mae = np.abs(predicted[["logp", "tpsa"]].to_numpy() - truth)[known].mean()
    assert mae == pytest.approx(regression["test_mae"], abs=1e-4)


def test_classification_predicts_probabilities_and_reproduces_auroc(classification):
    assert classification["task"] == "classification"
    test = split_rows(datamodule(target_columns=["polar"], task="classification"), "test")
    predictor = load_model(classification["best_checkpoint"])
    assert predictor.task == "classification" and predictor.target_names == ["polar"]
    predicted = predictor.predict(test["smiles"])["polar"].to_numpy()
    assert ((predicted > 0) & (predicted < 1)).all()
    known = test["polar"].notna().to_numpy()
    auroc = binary_auroc(
        torch.tensor(predicted[known]), torch.tensor(test["polar"].to_numpy()[known]).long()
    )
    assert float(auroc) == pytest.approx(classification["test_auroc"], abs=1e-4)
