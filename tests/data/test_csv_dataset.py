"""CSVDataset: targets with missing cells, every bad row listed, skipping, caching."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd
import pytest

import cgt.data.csv_dataset as csv_module
from cgt.data import CSVDataset
from cgt.errors import InvalidRowsError


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    path = tmp_path / "mols.csv"
    pd.DataFrame(
        {
            "name": ["ethanol", "broken", "benzene", "empty", "uranium", "salt"],
            "smiles": ["CCO", "C1CC", "c1ccccc1", "", "[U]", "[Na+].[Cl-]"],
            "logp": ["1.5", "", "2", "3", "NA", "-0.25"],
            "active": ["0", "1", "nan", "1", "0", ""],
        }
    ).to_csv(path, index=False)
    return path


def test_raise_lists_every_invalid_row(mixed: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidRowsError) as info:
        CSVDataset(mixed, target_columns=["logp", "active"], root=tmp_path / "cache")
    error = info.value
    assert isinstance(error, ValueError) and error.total == 6
    assert [(row, smiles) for row, smiles, _ in error.rows] == [(1, "C1CC"), (3, ""), (4, "[U]")]
    message = str(error)
    assert "3 of 6 rows" in message and "on_invalid='skip'" in message
    assert "row 1 (line 3): 'C1CC': SMILES Parse Error: unclosed ring" in message
    assert "row 3 (line 5): '': empty SMILES" in message
    assert "row 4 (line 6): '[U]': atom 0 (U," in message


def test_skip_keeps_valid_rows_with_missing_targets(
    mixed: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        dataset = CSVDataset(
            mixed, target_columns=["logp", "active"], on_invalid="skip", root=tmp_path
        )
    assert dataset.num_skipped == 3 and [row for row, _, _ in dataset.skipped] == [1, 3, 4]
    assert "skipped 3 of 6 rows" in caplog.text
    assert dataset.smiles == ["CCO", "c1ccccc1", "[Na+].[Cl-]"]
    assert dataset.rows.tolist() == [0, 2, 5]
    values = dataset.y.tolist()
    assert values[0] == [1.5, 0.0] and values[1][0] == 2.0 and math.isnan(values[1][1])
    assert values[2][0] == -0.25 and math.isnan(values[2][1])
    assert dataset[2].y.shape == (1, 2) and dataset[2].x.shape == (2, 7)
    assert dataset.target_names == ["logp", "active"] and dataset.featurizer == "atom"


def test_cached_second_load(mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = CSVDataset(mixed, target_columns="logp", on_invalid="skip", root=tmp_path)

    def fail(*args: object) -> None:
        raise AssertionError("featurized again")

    monkeypatch.setattr(csv_module, "featurize_rows", fail)
    again = CSVDataset(mixed, target_columns=["logp"], on_invalid="skip", root=tmp_path)
    assert again.smiles == first.smiles and again.num_skipped == 3
    # The cached invalid rows still make the default mode fail, listing them.
    with pytest.raises(InvalidRowsError, match="3 of 6 rows"):
        CSVDataset(mixed, target_columns=["logp"], root=tmp_path)


def test_non_numeric_targets_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"smiles": ["C", "CC", "CCC"], "y": ["1", "high", "2,5"]}).to_csv(
        path, index=False
    )
    with pytest.raises(ValueError, match="2 target cells are not numbers") as info:
        CSVDataset(path, target_columns=["y"], root=tmp_path)
    assert "row 1 (line 3): column 'y': 'high'" in str(info.value)
    assert "row 2 (line 4): column 'y': '2,5'" in str(info.value)


def test_missing_columns_and_options(mixed: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no column 'pIC50'; its columns are 'name', 'smiles'"):
        CSVDataset(mixed, target_columns=["pIC50"], root=tmp_path)
    with pytest.raises(ValueError, match="no column 'SMILES'"):
        CSVDataset(mixed, smiles_column="SMILES", target_columns=["logp"], root=tmp_path)
    with pytest.raises(ValueError, match="on_invalid must be one of"):
        CSVDataset(mixed, target_columns=["logp"], on_invalid="drop", root=tmp_path)


def test_all_rows_invalid(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    pd.DataFrame({"smiles": ["C1CC", "Cxx"], "y": [1, 2]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="none of its 2 rows has a valid molecule"):
        CSVDataset(path, target_columns=["y"], on_invalid="skip", root=tmp_path)
