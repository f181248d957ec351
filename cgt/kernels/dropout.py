"""Attention-dropout mask of the fused chromatic attention kernel.

One Bernoulli draw per packed pair (docs/design.md §2, §4), shared by all channels, from
Triton's counter-based Philox generator keyed by ``(seed, global pair index)``:
pair ``p`` is kept when ``tl.rand(seed, p) >= p_drop``. The attention kernels call
:func:`keep_pair` on the fly (the backward regenerates the forward's mask from the
seed, nothing is stored); :func:`dropout_mask` materialises the same mask so that
the PyTorch reference can be fed it.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from cgt.kernels import _buffers
from cgt.packing import pair_ptr

__all__ = ["dropout_mask", "keep_pair"]

_BLOCK = 1024


@triton.jit
def keep_pair(seed, pair, p_drop):
    """Whether each pair of the int64 block ``pair`` survives dropout (one draw per pair)."""
    return tl.rand(seed, pair) >= p_drop


# Not specialised (Triton would compile apart the values 1 and the multiples of 16):
# a fresh seed or batch size per call must not recompile.
@triton.jit(do_not_specialize=["num_pairs", "seed"])
def _dropout_mask_kernel(KEEP, num_pairs, seed, p_drop, BLOCK: tl.constexpr):
    pair = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    tl.store(KEEP + pair, keep_pair(seed, pair, p_drop), mask=pair < num_pairs)


def dropout_mask(ptr: Tensor, p: float, seed: int) -> Tensor:
    """The attention-dropout mask :func:`cgt.kernels.chromatic_attention` uses.

    Args:
        ptr: ``[B+1]`` node offsets of the graphs (PyG's ``batch.ptr``), on the
            device the mask is wanted on (CUDA, or CPU under ``TRITON_INTERPRET=1``).
        p: dropout probability in ``[0, 1)``.
        seed: the ``seed`` given to :func:`cgt.kernels.chromatic_attention`
            (an int in ``[0, 2**63)``).

    Returns:
        ``[P]`` bool, ``True`` where the pair is kept, ``P = Σ_g n_g²`` in packed-pair
        order; pass it as ``dropout_mask`` to :func:`cgt.nn.functional.chromatic_attention`.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1), got {p}")
    seed = int(seed)
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    if ptr.dim() != 1 or ptr.numel() < 1:
        raise ValueError(f"ptr must be a 1-D tensor of B+1 offsets, got shape {tuple(ptr.shape)}")
    num_pairs = int(pair_ptr(ptr)[-1])
    keep = _buffers.empty((num_pairs,), torch.bool, ptr.device)
    if num_pairs > 0:
        grid = (triton.cdiv(num_pairs, _BLOCK),)
        _dropout_mask_kernel[grid](keep, num_pairs, seed, p, BLOCK=_BLOCK)
    return keep
