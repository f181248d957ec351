"""``python -m cgt.predict --devices 2``: prediction in 2 processes launched by Lightning
(CPU, gloo); the joined output is byte for byte the one-process output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from cgt.cli.predict import EXIT_OK, main
from cgt.cli.predict_devices import shard_path
from cgt.system import CGTModule


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    module = CGTModule(channels=16, layers=2, heads=4, steps=4, target_names=["logp"])
    path = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata()}, path)
    return path


def test_shard_paths():
    assert shard_path(Path("a/out.csv"), (2, 4)) == Path("a/out-shard-2-of-4.csv")
    assert shard_path(Path("out.csv.gz"), (1, 2)) == Path("out-shard-1-of-2.csv.gz")
    assert shard_path(Path("out"), (1, 2)) == Path("out-shard-1-of-2")


def test_two_processes_write_the_one_process_output(checkpoint, tmp_path):
    suffix = "csv"  # Parquet shards join like the parts of one run (tests/test_tables.py)
    source = tmp_path / "lib.csv"
    smiles = ["CCO", "c1ccccc1O", "bad", "CC(=O)Nc1ccc(O)cc1", "CCN"] * 9
    pd.DataFrame({"id": range(len(smiles)), "smiles": smiles}).to_csv(source, index=False)
    argv = ["--checkpoint", checkpoint, "--input", source, "--chunk-rows", 8, "--output"]
    argv = [str(a) for a in argv]
    assert main([*argv, str(tmp_path / f"one.{suffix}")]) == EXIT_OK
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cgt.predict",
            *argv,
            str(tmp_path / f"two.{suffix}"),
            "--devices",
            "2",
            "--device",
            "cpu",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == EXIT_OK, result.stderr[-3000:]
    assert "45 rows, 36 valid, 9 invalid" in result.stderr
    assert (tmp_path / f"two.{suffix}").read_bytes() == (tmp_path / f"one.{suffix}").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["lib.csv", f"one.{suffix}", f"two.{suffix}"]
    )  # shards and progress folders removed
