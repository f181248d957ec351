"""``--trainer.sync_batchnorm true`` off CUDA: the Lightning plugin that puts
:class:`cgt.nn.sync_batchnorm.SyncBatchNorm` in the model for the multi-process fit.

Lightning's own plugin converts to ``torch.nn.SyncBatchNorm``, which runs on CUDA only (its
statistics kernels have no CPU implementation), so a CPU (gloo) DDP run would fail with it.
On CUDA, torch's is kept: same statistics and running-statistics update, with fused
kernels.
"""

from __future__ import annotations

import torch
from lightning.pytorch.accelerators import Accelerator, CUDAAccelerator
from lightning.pytorch.plugins import TorchSyncBatchNorm
from torch import nn

from cgt.nn.sync_batchnorm import to_batchnorm, to_sync_batchnorm

__all__ = ["BatchNormSync", "batchnorm_sync_for"]


class BatchNormSync(TorchSyncBatchNorm):
    """Converts the model's :class:`~torch.nn.BatchNorm1d` layers to cgt's
    :class:`~cgt.nn.sync_batchnorm.SyncBatchNorm` for fitting (:meth:`apply`) and back
    (:meth:`revert`); the layers keep their parameters and buffers, so checkpoints written
    during the fit load into the plain model.

    A :class:`~lightning.pytorch.plugins.TorchSyncBatchNorm` only so that the Trainer
    accepts it with ``sync_batchnorm=True`` (it refuses any other ``LayerSync`` with that
    flag, and uses one given in ``plugins`` even without it); nothing of torch's is used.
    """

    def apply(self, model: nn.Module) -> nn.Module:
        """``model`` with synchronised BatchNorm layers."""
        return to_sync_batchnorm(model)

    def revert(self, model: nn.Module) -> nn.Module:
        """``model`` with plain BatchNorm layers again."""
        return to_batchnorm(model)


def batchnorm_sync_for(accelerator: str | Accelerator | None) -> BatchNormSync | None:
    """The plugin for ``Trainer(sync_batchnorm=True, accelerator=accelerator)``: None where
    the run is on CUDA (Lightning's default, torch's SyncBatchNorm, is kept there), else a
    :class:`BatchNormSync`. ``"auto"``, ``"gpu"`` and None mean CUDA when CUDA is there,
    as Lightning resolves them."""
    if isinstance(accelerator, Accelerator):
        on_cuda = isinstance(accelerator, CUDAAccelerator)
    else:
        on_cuda = accelerator in ("cuda", "gpu", "auto", None) and torch.cuda.is_available()
    return None if on_cuda else BatchNormSync()
