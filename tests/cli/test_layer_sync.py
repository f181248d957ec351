"""cgt.cli.layer_sync: which BatchNorm sync a run gets, and what the plugin does to a model.
That it makes 2 CPU processes train as one: tests/cli/test_train_ddp.py."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator
from lightning.pytorch.plugins import TorchCheckpointIO, TorchSyncBatchNorm
from torch import nn

from cgt.cli.checkpoint_io import AtomicCheckpointIO
from cgt.cli.layer_sync import BatchNormSync, batchnorm_sync_for
from cgt.cli.train import CGTCLI, resolve_config_path
from cgt.model import CGT
from cgt.nn.sync_batchnorm import SyncBatchNorm
from cgt.system import CGTModule


@pytest.mark.parametrize("cuda", [False, True])
def test_cgt_sync_off_cuda_and_torch_sync_on_cuda(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert isinstance(batchnorm_sync_for("cpu"), BatchNormSync)
    assert isinstance(batchnorm_sync_for(CPUAccelerator()), BatchNormSync)
    assert batchnorm_sync_for(CUDAAccelerator()) is None
    for name in ("auto", "gpu", "cuda", None):
        assert (batchnorm_sync_for(name) is None) == cuda, name


def test_apply_and_revert_convert_every_batchnorm():
    plugin = BatchNormSync()
    assert isinstance(plugin, TorchSyncBatchNorm)  # what Trainer(sync_batchnorm=True) accepts
    model = CGT(channels=8, layers=2, heads=2, steps=4)
    norms = sum(type(m) is nn.BatchNorm1d for m in model.modules())
    synced = plugin.apply(model)
    assert sum(type(m) is SyncBatchNorm for m in synced.modules()) == norms
    reverted = plugin.revert(synced)
    assert sum(type(m) is nn.BatchNorm1d for m in reverted.modules()) == norms
    assert not any(isinstance(m, SyncBatchNorm) for m in reverted.modules())


@pytest.mark.parametrize("sync", [False, True])
def test_the_cli_gives_the_trainer_cgt_sync_with_sync_batchnorm_on_cpu(tmp_path, sync):
    args = [
        *("--config", resolve_config_path("zinc-tiny.yaml"), "--trainer.devices", "2"),
        *("--trainer.strategy", "ddp", "--trainer.sync_batchnorm", str(sync).lower()),
        *("--trainer.default_root_dir", str(tmp_path)),
    ]
    cli = CGTCLI(CGTModule, LightningDataModule, subclass_mode_data=True, run=False, args=args)
    # Lightning keeps the chosen LayerSync on the strategy only (a private attribute).
    layer_sync = cli.trainer.strategy._layer_sync
    assert isinstance(layer_sync, BatchNormSync) if sync else layer_sync is None
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_plugins_of_the_config_are_kept_and_get_the_sync_too(tmp_path):
    args = [
        *("--config", resolve_config_path("zinc-tiny.yaml"), "--trainer.devices", "2"),
        *("--trainer.strategy", "ddp", "--trainer.sync_batchnorm", "true"),
        *("--trainer.plugins", "lightning.pytorch.plugins.io.TorchCheckpointIO"),
        *("--trainer.default_root_dir", str(tmp_path)),
    ]
    cli = CGTCLI(CGTModule, LightningDataModule, subclass_mode_data=True, run=False, args=args)
    assert type(cli.trainer.strategy.checkpoint_io) is TorchCheckpointIO
    assert isinstance(cli.trainer.strategy._layer_sync, BatchNormSync)
