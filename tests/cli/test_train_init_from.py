"""Fine-tuning from the command line: ``--model.init_from`` and ``--model.freeze_layers``
through the training CLI, recorded in the run's resolved config."""

from __future__ import annotations

import torch
import yaml

from cgt.checkpoint import read_checkpoint
from cgt.cli.train import train
from cgt.system import CGTModule

# The architecture of the bundled zinc-tiny.yaml.
TINY = dict(channels=16, layers=2, heads=4, steps=8, ring="paper")


def test_training_starts_from_a_checkpoint_and_records_it(tmp_path):
    torch.manual_seed(5)
    source = tmp_path / "source.ckpt"
    module = CGTModule(**TINY, target_names=["y"])
    module.model.layers[0].norm1.running_mean.normal_()  # unlike a fresh model's zeros
    torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata()}, source)
    run = tmp_path / "run"
    metrics = train([
        "--config", "zinc-tiny.yaml", "--trainer.default_root_dir", str(run),
        "--trainer.max_epochs", "1", "--model.init_from", str(source),
        "--model.freeze_layers", "1",
    ])  # fmt: skip
    assert metrics["epochs"] == 1 and metrics["test_mae"] is not None
    assert metrics["num_parameters"] < module.num_parameters  # frozen layers do not count
    config = yaml.safe_load((run / "logs" / "version_0" / "config.yaml").read_text())
    assert config["model"]["init_from"] == str(source)
    assert config["model"]["freeze_layers"] == 1
    info, state = read_checkpoint(metrics["best_checkpoint"])
    assert info.config["model"]["init_from"] == str(source)
    key = "model.layers.0.norm1.running_mean"  # frozen: as in the source after training
    assert torch.equal(state[key], module.state_dict()[key])
