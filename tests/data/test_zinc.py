"""ZINC: sizes, order and targets of the shipped file, published graph statistics, caching."""

from __future__ import annotations

import importlib.resources
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cgt.data.zinc as zinc_module
from cgt.data import ZINC
from cgt.data.zinc import ZINC_FULL_ENV

SHIPPED = importlib.resources.files("cgt.data") / "files" / "zinc" / "zinc12k.csv.gz"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pd.read_csv(str(SHIPPED))


def test_sizes_order_and_targets_equal_the_file(zinc_root: Path, table: pd.DataFrame) -> None:
    for split, size in (("train", 10000), ("val", 1000), ("test", 1000)):
        dataset = ZINC(split, root=zinc_root)
        rows = table[table["split"] == split]
        assert len(dataset) == size == len(rows)
        assert dataset.smiles == rows["smiles"].tolist()
        assert rows["pyg_idx"].tolist() == list(range(size))
        np.testing.assert_array_equal(dataset.y.numpy()[:, 0], rows["y"].to_numpy(dtype=np.float32))
        item = dataset[size - 1]
        assert item.smiles == rows["smiles"].iloc[-1]
        assert item.y.item() == np.float32(rows["y"].iloc[-1])


def test_graphs_match_published_statistics(zinc_root: Path) -> None:
    """benchmarking-gnns' ZINC 12k (all 12,000 graphs): 23.16 nodes, 49.83 directed edges."""
    atoms, edges = [], []
    for split in ("train", "val", "test"):
        payload = ZINC(split, root=zinc_root).payload()
        atoms.append(payload["num_nodes"].numpy())
        edges.append(np.diff(payload["offsets"]["edge_index"].numpy()))
    atoms, edges = np.concatenate(atoms), np.concatenate(edges)
    assert round(float(atoms.mean()), 2) == 23.16  # 23.1553
    assert round(float(edges.mean()), 2) == 49.83  # 49.8308
    assert (atoms.min(), atoms.max()) == (9, 37)


def test_second_load_comes_from_the_cache(zinc_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("featurized again instead of loading the cache")

    monkeypatch.setattr(zinc_module, "featurize_rows", fail)
    start = time.perf_counter()
    assert len(ZINC("val", root=zinc_root)) == 1000
    assert time.perf_counter() - start < 5  # generous: loading, not featurizing


def test_a_garbled_or_truncated_cache_is_rebuilt(tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    pd.DataFrame(
        {"split": ["train", "val", "train"], "smiles": ["CCO", "c1ccccc1", "CN"], "y": [1, 2, 3]}
    ).to_csv(small, index=False)
    first = ZINC("train", subset=False, path=small, root=tmp_path / "cache")
    (cache_file,) = (tmp_path / "cache").iterdir()
    data = bytearray(cache_file.read_bytes())
    data[len(data) // 2] ^= 0x55
    cache_file.write_bytes(bytes(data))
    again = ZINC("train", subset=False, path=small, root=tmp_path / "cache")
    assert again.smiles == first.smiles == ["CCO", "CN"] and again.y.tolist() == [[1.0], [3.0]]
    assert again.rows.tolist() == [0, 2]
    cache_file.write_bytes(cache_file.read_bytes()[:100])
    assert ZINC("train", subset=False, path=small, root=tmp_path / "cache").smiles == ["CCO", "CN"]
    # A changed file is a new cache entry, never the old graphs.
    pd.DataFrame({"split": ["train"], "smiles": ["CCC"], "y": [0.5]}).to_csv(small, index=False)
    assert ZINC("train", subset=False, path=small, root=tmp_path / "cache").smiles == ["CCC"]


def test_zinc_full_missing_says_where_to_put_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ZINC_FULL_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=f"no file was given.*{ZINC_FULL_ENV}="):
        ZINC("train", subset=False, root=tmp_path)
    monkeypatch.setenv(ZINC_FULL_ENV, str(tmp_path / "nowhere.csv.gz"))
    with pytest.raises(FileNotFoundError, match="nowhere.csv.gz does not exist"):
        ZINC("train", subset=False, root=tmp_path)


def test_invalid_rows_of_a_zinc_file_are_all_listed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    pd.DataFrame(
        {"split": ["val", "val", "val"], "smiles": ["C1CC", "CCO", "[Se]"], "y": [1, 2, 3]}
    ).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"2 of 3 rows(.|\n)*row 0 (.|\n)*row 2 ") as info:
        ZINC("val", subset=False, path=bad, root=tmp_path)
    assert "C1CC" in str(info.value) and "[Se]" in str(info.value)


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        ZINC("validation")
