"""Allocation of every buffer the kernels of :mod:`cgt.kernels` write.

The kernels allocate their outputs with :func:`empty` (uninitialised memory) and
are responsible for writing every element. Tests replace :func:`empty` by an
allocator that poisons the buffer (NaN, or a wrong boolean) so that an element a
kernel forgets to write makes them fail.
"""

from __future__ import annotations

import torch
from torch import Tensor


def empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """Uninitialised tensor of ``shape`` that a kernel is about to fill completely."""
    return torch.empty(shape, dtype=dtype, device=device)
