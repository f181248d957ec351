"""The on-disk cache: round trip, and corrupted or stale files are never trusted."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cgt.data.cache import cache_dir, cache_key, load_cache, load_or_build, save_cache

PAYLOAD = {"fields": {"x": torch.arange(10)}, "smiles": ["CCO", "C"], "n": 3}


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.pt"
    save_cache(path, "key-1", PAYLOAD)
    loaded = load_cache(path, "key-1")
    assert loaded["smiles"] == PAYLOAD["smiles"] and loaded["n"] == 3
    assert torch.equal(loaded["fields"]["x"], PAYLOAD["fields"]["x"])
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]  # no temporary file left


def test_missing_stale_truncated_garbled(tmp_path: Path) -> None:
    path = tmp_path / "a.pt"
    assert load_cache(path, "key-1") is None
    save_cache(path, "key-1", PAYLOAD)
    assert load_cache(path, "key-2") is None  # stale: another key
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert load_cache(path, "key-1") is None  # truncated
    garbled = bytearray(data)
    garbled[len(garbled) // 2] ^= 0xFF
    path.write_bytes(bytes(garbled))
    assert load_cache(path, "key-1") is None  # one flipped byte
    path.write_bytes(b"")
    assert load_cache(path, "key-1") is None


def test_load_or_build_builds_once_and_rebuilds_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "a.pt"
    calls = []

    def build() -> dict:
        calls.append(1)
        return PAYLOAD

    load_or_build(path, "k", build)
    load_or_build(path, "k", build)
    assert len(calls) == 1
    path.write_bytes(path.read_bytes()[:-10])
    assert load_or_build(path, "k", build)["n"] == 3
    assert len(calls) == 2 and load_cache(path, "k") is not None


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CGT_CACHE_DIR", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "root") == tmp_path / "root"
    monkeypatch.delenv("CGT_CACHE_DIR")
    assert cache_dir() == Path.home() / ".cache" / "cgt"


def test_cache_key_depends_on_every_part() -> None:
    base = cache_key(source="abc", featurizer="zinc", featurizer_version=1)
    assert base == cache_key(featurizer_version=1, featurizer="zinc", source="abc")
    assert base != cache_key(source="abd", featurizer="zinc", featurizer_version=1)
    assert base != cache_key(source="abc", featurizer="zinc", featurizer_version=2)
