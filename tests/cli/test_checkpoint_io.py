import pytest
import torch

from cgt.cli.checkpoint_io import AtomicCheckpointIO


def test_replaces_the_checkpoint_and_keeps_the_old_one_when_a_save_fails(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"epoch": 1, "w": torch.ones(2)}, path)
    io.save_checkpoint({"epoch": 2, "w": torch.ones(2)}, path)
    assert torch.load(path, weights_only=True)["epoch"] == 2
    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises
        io.save_checkpoint({"epoch": 3, "bad": lambda: None}, path)
    assert torch.load(path, weights_only=True)["epoch"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary left
