"""Shared fixtures: the ZINC 12k splits, featurized once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgt.data import ZINC


@pytest.fixture(scope="session")
def zinc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding the processed train/val/test splits of ZINC 12k."""
    root = tmp_path_factory.mktemp("zinc-cache")
    for split in ("train", "val", "test"):
        ZINC(split, root=root)
    return root
