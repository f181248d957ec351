"""Featurizing in worker processes (cgt.data.parallel) gives what one process gives."""

from __future__ import annotations

import numpy as np
import pytest

import cgt.data.parallel
from cgt.data.parallel import featurize_arrays_parallel
from cgt.data.smiles_to_graph import featurize_arrays, featurize_rows
from cgt.errors import MoleculeError

SMILES = ["CCO", "c1ccccc1O", "not-a-smiles", "CC(=O)Nc1ccc(O)cc1", "", "[U]", "C1CC1N", None]


def test_workers_give_the_one_process_result_in_order(monkeypatch):
    smiles = SMILES * 4
    monkeypatch.setattr(cgt.data.parallel, "PIECE_ROWS", 5)  # 7 pieces for 2 workers
    got = featurize_arrays_parallel(smiles, "zinc", workers=2)
    expected = featurize_arrays(smiles, "zinc")
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        if isinstance(b, MoleculeError):
            assert type(a) is type(b) and (a.smiles, a.reason) == (b.smiles, b.reason)
        else:
            assert a.keys() == b.keys()
            for key in b:
                np.testing.assert_array_equal(a[key], b[key])
    rows = featurize_rows(smiles, "zinc", workers=0)
    assert rows[1] == featurize_rows(smiles, "zinc", workers=2)[1]


def test_few_molecules_stay_in_process(monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("no worker processes for a small input")

    monkeypatch.setattr(cgt.data.parallel, "ProcessPoolExecutor", no_pool)
    assert len(featurize_arrays_parallel(SMILES, "zinc", workers=None)) == len(SMILES)
    assert len(featurize_arrays_parallel(SMILES * 2, "atom", workers=1)) == len(SMILES) * 2
    with pytest.raises(ValueError, match="at least 0"):
        featurize_arrays_parallel(SMILES, "zinc", workers=-1)
