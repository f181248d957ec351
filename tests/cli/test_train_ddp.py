"""Training with Lightning's DDP on CPU (2 processes, gloo): metrics over the whole split,
rank-0 writes, resuming, and ``--trainer.sync_batchnorm true`` (cgt's synchronised BatchNorm)
making the run the one-process run with the same global batch.

Without synchronised BatchNorm each process normalises over its own half of each batch and
the run is not the one-process run. What is tested: the metrics of the DDP run are those of
its checkpoint scored on every val/test molecule by one process, a killed-and-resumed DDP
run ends with the weights of an uninterrupted one, and with sync the training losses and
weights are those of one process, to float32 reduction order (docs/design.md, "Distributed
training"), while without it they clearly are not.
"""

from __future__ import annotations

import json
import os
import re
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
    return cgt_train(*ARGS, "--trainer.default_root_dir", str(root), *extra)


def cgt_train(*args: str) -> str:
    """``python -m cgt.train *args``; returns what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "cgt.train", *args],
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


#: Parameters with a zero gradient in exact arithmetic: a per-channel constant added before a
#: training-mode BatchNorm (the residual branches' last biases) or before the attention's
#: softmax and value average (the pair encoder's biases) changes nothing in training. Their
#: float32 gradient is rounding noise, which Adam turns into steps of about the learning rate
#: in any run, and the running means follow them (they do act in eval mode): they are
#: compared apart.
INVARIANT = re.compile(
    r"(attention\.out_proj\.bias|ffn\.3\.bias|pair_encoder\.\w+\.bias|running_mean)$"
)
#: Measured with sync: train losses 2e-7 relative, weights 1.5e-4 of each tensor's largest
#: entry, predictions 7e-6; without: 7e-3, 1.9 and 0.1.
LOSS_TOLERANCE, WEIGHT_TOLERANCE, PREDICTION_TOLERANCE = 1e-5, 1e-3, 1e-4


def tiny_zinc(path: Path) -> Path:
    """96 train, 48 val and 48 test molecules of the shipped ZINC 12k (6 batches of 16)."""
    table = pd.read_csv(zinc_source())
    sizes = {"train": 96, "val": 48, "test": 48}
    pd.concat(table[table["split"] == split].head(n) for split, n in sizes.items()).to_csv(
        path, index=False
    )
    return path


def train_losses(root: Path) -> torch.Tensor:
    """The logged training loss of every step."""
    table = pd.read_csv(root / "logs" / "version_0" / "metrics.csv")
    return torch.tensor(table["train_loss_step"].dropna().to_numpy())


def weight_gap(ours: Path, theirs: Path) -> float:
    """Largest ``max|a - b| / max|a|`` over the non-:data:`INVARIANT` tensors of two runs'
    last weights."""
    a, b = weights(ours / "checkpoints/last.ckpt"), weights(theirs / "checkpoints/last.ckpt")
    assert a.keys() == b.keys()
    compared = [key for key in a if not INVARIANT.search(key)]
    assert len(compared) > 30
    return max(
        ((a[k] - b[k]).abs().max() / a[k].abs().max().clamp(min=1e-12)).item() for k in compared
    )


def prediction_gap(ours: Path, theirs: Path, smiles: list[str], tmp_path: Path) -> float:
    """Largest gap between the predictions of ``ours`` and of ``theirs`` with the
    :data:`INVARIANT` tensors of ``ours``: what is left once those are the same."""
    checkpoint = torch.load(theirs / "checkpoints/last.ckpt", weights_only=True)
    reference = weights(ours / "checkpoints/last.ckpt")
    for key in checkpoint["state_dict"]:
        if INVARIANT.search(key):
            checkpoint["state_dict"][key] = reference[key]
    torch.save(checkpoint, tmp_path / "aligned.ckpt")
    expected = load_model(str(ours / "checkpoints/last.ckpt")).predict(smiles)["y"].to_numpy()
    got = load_model(str(tmp_path / "aligned.ckpt")).predict(smiles)["y"].to_numpy()
    return float(abs(got - expected).max())


def test_sync_batchnorm_makes_two_processes_the_one_process_run(tmp_path):
    """One epoch of 6 steps of 16 molecules: 1 process, and 2 x 8 with and without sync.
    Dropout is 0 in zinc-tiny.yaml (the processes' dropout streams differ)."""
    data = tiny_zinc(tmp_path / "tiny.csv")
    args = [
        *("--config", "zinc-tiny.yaml", "--trainer.accelerator", "cpu"),
        *("--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1.0"),
        *("--trainer.limit_val_batches", "1.0", "--trainer.limit_test_batches", "1.0"),
        *("--trainer.enable_progress_bar", "false", "--data.root", str(tmp_path / "cache")),
        *("--data.path", str(data)),
    ]
    ddp = ("--trainer.devices", "2", "--trainer.strategy", "ddp")
    cgt_train(*args, "--trainer.devices", "1", "--trainer.default_root_dir", str(tmp_path / "one"))
    cgt_train(*args, *ddp, "--trainer.sync_batchnorm", "true",
              "--trainer.default_root_dir", str(tmp_path / "synced"))  # fmt: skip
    cgt_train(*args, *ddp, "--trainer.default_root_dir", str(tmp_path / "unsynced"))

    one = train_losses(tmp_path / "one")
    assert len(one) == 6
    test = pd.read_csv(data).query("split == 'test'")["smiles"].tolist()
    gaps = {}
    for run in ("synced", "unsynced"):
        loss_gap = ((train_losses(tmp_path / run) - one).abs() / one.abs()).max().item()
        gaps[run] = (
            loss_gap,
            weight_gap(tmp_path / "one", tmp_path / run),
            prediction_gap(tmp_path / "one", tmp_path / run, test, tmp_path),
        )
    print(f"train losses (relative), weights, predictions: {gaps}")
    tolerances = torch.tensor([LOSS_TOLERANCE, WEIGHT_TOLERANCE, PREDICTION_TOLERANCE])
    assert (torch.tensor(gaps["synced"]) < tolerances).all(), gaps
    # Without sync, clearly apart (not just over the line): the test can tell.
    assert (torch.tensor(gaps["unsynced"]) > 100 * tolerances).all(), gaps
