"""The model the command-line tests predict with."""

from __future__ import annotations

import pytest
import torch

from cgt.system import CGTModule


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A small untrained two-target regression model saved as a cgt checkpoint."""
    torch.manual_seed(0)
    module = CGTModule(channels=16, layers=2, heads=4, steps=4, target_names=["logp", "tpsa"])
    module.target_mean.copy_(torch.tensor([2.0, 60.0]))
    module.target_std.copy_(torch.tensor([1.5, 20.0]))
    path = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata()}, path)
    return path
