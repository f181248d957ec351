"""The optional calibration entry of a checkpoint (cgt.checkpoint.write_calibration)."""

from __future__ import annotations

import pytest
import torch

from cgt.checkpoint import CheckpointError, read_checkpoint, write_calibration
from cgt.inference import load_model
from cgt.system import CGTModule


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    module = CGTModule(channels=16, layers=2, heads=4, steps=4, target_names=["a", "b"])
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata(), "epoch": 3}, path)
    return path


def test_calibration_round_trip(checkpoint):
    assert read_checkpoint(checkpoint)[0].calibration is None
    write_calibration(checkpoint, {"std_scale": [1.5, 2], "spread": "mc_dropout", "mc_dropout": 5})
    info, _ = read_checkpoint(checkpoint)
    assert info.calibration == {"std_scale": [1.5, 2.0], "spread": "mc_dropout", "mc_dropout": 5}
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 3  # the rest is kept
    assert load_model(checkpoint).std_scale.tolist() == [1.5, 2.0]
    assert not checkpoint.with_name("model.ckpt.partial").exists()


@pytest.mark.parametrize(
    ("calibration", "message"),
    [
        ({"std_scale": [1.0]}, "one number per target"),
        ({"std_scale": [1.0, 0.0]}, "must be positive"),
        ({"scale": [1.0, 1.0]}, "with 'std_scale'"),
    ],
)
def test_malformed_calibration_is_refused(checkpoint, calibration, message):
    with pytest.raises(ValueError, match=message):
        write_calibration(checkpoint, calibration)
    raw = torch.load(checkpoint, weights_only=True)
    raw["cgt"]["calibration"] = calibration
    torch.save(raw, checkpoint)
    with pytest.raises(CheckpointError, match=f"model.ckpt.*{message}"):
        read_checkpoint(checkpoint)
