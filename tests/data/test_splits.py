"""Random, scaffold and column splits."""

from __future__ import annotations

import importlib.resources

import numpy as np
import pandas as pd
import pytest

from cgt.data.splits import column_split, random_split, scaffold, scaffold_split, split_counts

EXAMPLE = importlib.resources.files("cgt.data") / "files" / "examples" / "zinc_props.csv"


@pytest.fixture(scope="module")
def smiles() -> list[str]:
    return pd.read_csv(str(EXAMPLE))["smiles"].tolist()


def test_split_counts() -> None:
    assert split_counts(400, (0.8, 0.1, 0.1)) == (320, 40, 40)
    assert split_counts(7, (0.8, 0.1, 0.1)) == (5, 1, 1)
    assert sum(split_counts(1001, (0.7, 0.2, 0.1))) == 1001
    for bad in ((0.8, 0.1), (0.9, 0.2, -0.1), (0.5, 0.2, 0.2)):
        with pytest.raises(ValueError, match="split_sizes"):
            split_counts(10, bad)


def test_random_split_is_a_seeded_partition() -> None:
    parts = random_split(100, (0.8, 0.1, 0.1), seed=3)
    assert [len(p) for p in parts] == [80, 10, 10]
    assert sorted(np.concatenate(parts).tolist()) == list(range(100))
    again = random_split(100, (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    other = random_split(100, (0.8, 0.1, 0.1), seed=4)
    assert not np.array_equal(parts[1], other[1])


def test_scaffold_split_keeps_scaffolds_apart(smiles: list[str]) -> None:
    parts = scaffold_split(smiles, (0.8, 0.1, 0.1))
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(smiles)))
    scaffolds = [{scaffold(smiles[i]) for i in part} for part in parts]
    assert not scaffolds[0] & scaffolds[2] and not scaffolds[0] & scaffolds[1]
    assert not scaffolds[1] & scaffolds[2]
    assert len(parts[0]) <= 320 and len(parts[1]) > 0 and len(parts[2]) > 0
    again = scaffold_split(smiles, (0.8, 0.1, 0.1))
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


def test_scaffold_groups_largest_first() -> None:
    # Five benzenes share a scaffold (the largest group goes to train), acyclics share "".
    molecules = ["Cc1ccccc1", "CCc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "Fc1ccccc1"]
    molecules += ["CCO", "CCN", "C1CCCCC1O", "c1ccncc1C"]
    train, val, test = scaffold_split(molecules, (0.6, 0.2, 0.2))
    assert train.tolist() == [0, 1, 2, 3, 4]
    assert {scaffold(molecules[i]) for i in val} | {scaffold(molecules[i]) for i in test} == {
        "",
        "C1CCCCC1",
        "c1ccncc1",
    }


def test_column_split_and_its_errors() -> None:
    parts = column_split(["train", "val", " Test", "train"], [0, 1, 2, 3], "f.csv")
    assert [p.tolist() for p in parts] == [[0, 3], [1], [2]]
    with pytest.raises(ValueError, match="2 split values are not one of train, val, test") as info:
        column_split(["train", "valid", "", "test"], [0, 2, 5, 6], "f.csv")
    assert "row 2 (line 4): 'valid'" in str(info.value)
    assert "row 5 (line 7): ''" in str(info.value)
