"""Training with Lightning's DDP on CPU (2 processes, gloo): metrics over the whole split,
rank-0 writes, and resuming.

PyTorch has no SyncBatchNorm on CPU, so here each process normalises over its own half of
each batch and the run is not the one-process run (on GPUs, ``--trainer.sync_batchnorm
true`` makes it so, to reduction order: README, "Train"). What is tested: the metrics of the
DDP run are those of its checkpoint scored on every val/test molecule by one process, and a
killed-and-resumed DDP run ends with the weights of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

from cgt.data.zinc import zinc_source
from cgt.inference import load_model

# zinc-tiny.yaml (no dropout) scored on every val/test molecule (1,000 each).
ARGS = [
    *("--config", "zinc-tiny.yaml", "--trainer.accelerator", "cpu", "--trainer.devices", "2"),
    *("--trainer.strategy", "ddp", "--trainer.limit_val_batches", "1.0"),
    *("--trainer.limit_test_batches", "1.0", "--trainer.enable_progress_bar", "false"),
]
#: float32 sums over 1,000 molecules in another order and grouping: about 1e-7 relative.
TOLERANCE = 1e-5


def ddp_train(root: Path, *extra: str) -> str:
    """``python -m cgt.train`` in 2 processes; returns what they printed."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cgt.train",
            *ARGS,
            "--trainer.default_root_dir",
            str(root),
            *extra,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def mae(checkpoint: str, split: str) -> float:
    """MAE of ``checkpoint`` on a whole split of the shipped ZINC 12k, in one process."""
    table = pd.read_csv(zinc_source())
    table = table[table["split"] == split]
    predictions = load_model(checkpoint).predict(table["smiles"].tolist(), batch_size=128)
    return float((predictions["y"].to_numpy() - table["y"].to_numpy()).__abs__().mean())


def weights(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, weights_only=True)["state_dict"]
    return {key: value for key, value in state.items() if value.is_floating_point()}


def test_ddp_whole_split_metrics_rank_zero_writes_and_resume(tmp_path):
    whole = tmp_path / "whole"
    output = ddp_train(whole)
    assert output.count("metrics written to") == 1  # by rank 0 only
    metrics = json.loads((whole / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    assert sorted(p.name for p in (whole / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert [p.name for p in (whole / "logs").iterdir()] == ["version_0"]
    # The metrics are the whole split's, not one process's half.
    assert abs(metrics["test_mae"] - mae(metrics["best_checkpoint"], "test")) < TOLERANCE
    assert abs(metrics["best_val_mae"] - mae(metrics["best_checkpoint"], "val")) < TOLERANCE

    resumed = tmp_path / "resumed"
    ddp_train(resumed, "--trainer.max_epochs", "1")
    ddp_train(resumed, "--ckpt_path", "last")
    again = json.loads((resumed / "metrics.json").read_text())
    assert again["epochs"] == 2 and again["resumed_from"].endswith("last.ckpt")
    ours, theirs = (
        weights(resumed / "checkpoints/last.ckpt"),
        weights(whole / "checkpoints/last.ckpt"),
    )
    assert ours.keys() == theirs.keys()
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], atol=TOLERANCE, rtol=TOLERANCE)
    for key in ("best_val_mae", "test_mae", "test_loss"):
        assert abs(again[key] - metrics[key]) < TOLERANCE, key
