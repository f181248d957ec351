r"""BatchNorm whose batch statistics span every process of a ``torch.distributed`` group,
on any device and backend (gloo on CPU included, where ``torch.nn.SyncBatchNorm`` refuses
to run), so that N processes with a share of the batch each normalise as one process with
the whole batch.

The CGT normalises over the atoms of a batch (:class:`cgt.nn.layer.CGTLayer`); processes
hold different molecules, hence different numbers of atoms (zero is allowed), and the
statistics are weighted by atom counts, not averaged over processes.

Derivation. Process :math:`r` holds rows :math:`x_i,\ i \in I_r` (one channel shown; all
channels are independent), :math:`n_r = |I_r|`, :math:`M = \sum_r n_r`.

Forward: :math:`\mu = \frac1M \sum_i x_i`, :math:`\sigma^2 = \frac1M \sum_i (x_i-\mu)^2`
(sums over all processes), :math:`s = \sqrt{\sigma^2+\epsilon}`, :math:`\hat x_i =
(x_i-\mu)/s`. Each process contributes its count, mean :math:`m_r` and
:math:`Q_r = \sum_{I_r}(x_i-m_r)^2` (one ``all_gather``), combined without the cancellation of
:math:`E[x^2]-E[x]^2`: :math:`\mu = \frac1M\sum_r n_r m_r`, :math:`M\sigma^2 = \sum_r
\big(Q_r + n_r (m_r-\mu)^2\big)`. The running statistics take :math:`\mu` and the unbiased
:math:`\sigma^2 M/(M-1)` with the layer's momentum, as one process would.

Backward: with :math:`\partial\mu/\partial x_j = 1/M` and :math:`\partial s/\partial x_j =
\hat x_j/M`,

.. math::
    \frac{\partial \hat x_i}{\partial x_j} = \frac1s\Big(\delta_{ij} - \frac1M
    - \frac{\hat x_i \hat x_j}{M}\Big),
    \qquad
    \frac{\partial L}{\partial x_j} = \frac1s\Big(g_j - \frac1M\sum_i g_i
    - \hat x_j\,\frac1M\sum_i g_i \hat x_i\Big),

where :math:`g_i = \partial L/\partial \hat x_i` lives on the process of row :math:`i`: the
two per-channel sums :math:`\sum g` and :math:`\sum g\hat x` are all-reduced (one
``all_reduce``). With the affine map :math:`y = \gamma\hat x + \beta`, :math:`g = \gamma\,
\partial L/\partial y`, so these are :math:`\gamma\sum dy` and :math:`\gamma\sum dy\,\hat x`.
Each process back-propagates its own loss :math:`L_r`, which depends on :math:`\hat x` of
its own rows only, so the :math:`g` of all processes together are the gradient of
:math:`\sum_r L_r` with respect to :math:`\hat x`, and the input gradient above is that of
:math:`\sum_r L_r` (what the other processes' losses owe to this process's rows through
:math:`\mu` and :math:`s` comes in through the two sums). :math:`\gamma` and
:math:`\beta` get their local gradients, and DDP averages every parameter gradient over the
N processes: the gradient of :math:`\frac1N\sum_r L_r`, which is the one-process loss
when each :math:`L_r` is the mean over an equal share of the batch.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["SyncBatchNorm", "to_batchnorm", "to_sync_batchnorm"]


def _world_size() -> int:
    """Processes of the default group; 1 outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


class _SyncNormalise(torch.autograd.Function):
    """``[M_r, C]`` rows to ``x̂`` with the statistics of all processes' rows (module
    docstring); also returns the global mean, biased variance and count (no gradient)."""

    @staticmethod
    def forward(ctx: Any, rows: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        count = torch.tensor([rows.shape[0]], dtype=rows.dtype, device=rows.device)
        mean = rows.sum(0) / count.clamp(min=1)
        squares = (rows - mean).square().sum(0)
        local = torch.cat([count, mean, squares])
        gathered = [torch.empty_like(local) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, local)
        stats = torch.stack(gathered)  # [N, 1 + 2C]
        channels = rows.shape[1]
        counts, means, squares = stats[:, :1], stats[:, 1 : 1 + channels], stats[:, 1 + channels :]
        total = counts.sum()
        if total <= 1:
            raise ValueError(
                "batch normalisation in training needs more than 1 value per channel over all "
                f"processes, got {int(total)}"
            )
        global_mean = (counts * means).sum(0) / total
        variance = (squares + counts * (means - global_mean).square()).sum(0) / total
        invstd = (variance + eps).rsqrt()
        normalised = (rows - global_mean) * invstd
        ctx.save_for_backward(normalised, invstd, total)
        ctx.mark_non_differentiable(global_mean, variance, total)
        return normalised, global_mean, variance, total

    @staticmethod
    def backward(ctx: Any, grad: Tensor, *_: Tensor | None) -> tuple[Tensor, None]:
        normalised, invstd, total = ctx.saved_tensors
        sums = torch.cat([grad.sum(0), (grad * normalised).sum(0)])
        dist.all_reduce(sums)
        grad_sum, grad_dot = sums.chunk(2)
        return (grad - grad_sum / total - normalised * (grad_dot / total)) * invstd, None


class SyncBatchNorm(nn.BatchNorm1d):
    """:class:`torch.nn.BatchNorm1d` with batch statistics over every process (module
    docstring): in training mode under an initialised process group of more than one
    process, each process normalises its rows with the mean and variance of all processes'
    rows and updates its running statistics with them, identically on every process; else
    it is exactly :class:`~torch.nn.BatchNorm1d`. Same parameters and buffers, so its state
    dict loads into a ``BatchNorm1d`` and back.

    Every process must call it the same number of times in the same order (each training
    call is a collective); a process may have zero rows.

    Shapes:
        - **input**: ``[M, C]`` or ``[M, C, L]`` (``M`` may differ between processes).
        - **output**: as input.
    """

    def forward(self, input: Tensor) -> Tensor:
        """Normalises ``input``; shapes in the class docstring."""
        if not self.training or _world_size() == 1:
            return super().forward(input)
        self._check_input_dim(input)
        channels = input.shape[1]
        rows = input.movedim(1, -1).reshape(-1, channels) if input.dim() == 3 else input
        work = rows.to(torch.promote_types(rows.dtype, torch.float32))
        normalised, mean, variance, total = _SyncNormalise.apply(work, self.eps)
        if self.track_running_stats and self.running_mean is not None:
            self._update_running_stats(mean, variance, total)
        if self.affine:
            normalised = normalised * self.weight + self.bias
        out = normalised.to(input.dtype)
        if input.dim() == 3:
            out = out.reshape(input.shape[0], input.shape[2], channels).movedim(-1, 1)
        return out

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, variance: Tensor, total: Tensor) -> None:
        """Running statistics as ``BatchNorm1d`` updates them with the whole batch."""
        self.num_batches_tracked.add_(1)
        if self.momentum is None:  # cumulative moving average
            factor = 1.0 / float(self.num_batches_tracked)
        else:
            factor = self.momentum
        unbiased = variance * (total / (total - 1))
        self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)


def _rebuild(norm: nn.BatchNorm1d, kind: type[nn.BatchNorm1d]) -> nn.BatchNorm1d:
    """A ``kind`` layer sharing ``norm``'s parameters, buffers and mode."""
    new = kind(norm.num_features, norm.eps, norm.momentum, norm.affine, norm.track_running_stats)
    for name, parameter in norm.named_parameters(recurse=False):
        setattr(new, name, parameter)
    for name, buffer in norm.named_buffers(recurse=False):
        setattr(new, name, buffer)
    return new.train(norm.training)


def _convert(module: nn.Module, wanted: type[nn.BatchNorm1d], convert: Any) -> nn.Module:
    """``module`` with every BatchNorm1d for which ``convert`` holds rebuilt as ``wanted``."""
    if isinstance(module, nn.BatchNorm1d) and convert(module):
        return _rebuild(module, wanted)
    for name, child in module.named_children():
        module.add_module(name, _convert(child, wanted, convert))
    return module


def to_sync_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with each :class:`~torch.nn.BatchNorm1d` (itself included) replaced by a
    :class:`SyncBatchNorm` sharing its parameters and buffers (changed in place; the
    returned module is ``module`` unless ``module`` is itself a BatchNorm1d)."""
    return _convert(module, SyncBatchNorm, lambda norm: not isinstance(norm, SyncBatchNorm))


def to_batchnorm(module: nn.Module) -> nn.Module:
    """The inverse of :func:`to_sync_batchnorm`: each :class:`SyncBatchNorm` back to a
    plain :class:`~torch.nn.BatchNorm1d` sharing its parameters and buffers."""
    return _convert(module, nn.BatchNorm1d, lambda norm: isinstance(norm, SyncBatchNorm))
