"""FeaturizePool: chunks featurized in worker processes, in order, as in one process."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from cgt.data.zinc import zinc_source
from cgt.featurize_pool import FeaturizePool
from cgt.inference import featurize


def test_workers_give_what_one_process_gives_for_thousands_of_molecules():
    smiles = pd.read_csv(zinc_source())["smiles"].tolist()[:3000] + ["bad", ""]
    chunks = [("a", smiles[:2500]), ("b", smiles[2500:]), ("c", [])]
    with FeaturizePool("zinc", workers=2, ahead=1) as pool:
        got = list(pool.map(chunks))  # 2,500 graphs in one chunk: tens of thousands of arrays
    assert [item for item, _ in got] == ["a", "b", "c"]
    for (_, text), (_, result) in zip(chunks, got, strict=True):
        expected = featurize(text, "zinc")
        assert result.rows == expected.rows and result.errors == expected.errors
        for ours, theirs in zip(result.graphs, expected.graphs, strict=True):
            assert ours.smiles == theirs.smiles
            assert torch.equal(ours.atom_type, theirs.atom_type)
            assert torch.equal(ours.edge_index, theirs.edge_index)


def test_bad_arguments():
    with pytest.raises(ValueError, match="workers"):
        FeaturizePool("zinc", workers=-1)
    with pytest.raises(RuntimeError, match="with"):
        next(FeaturizePool("zinc", workers=2).map([("a", ["C"])]))
