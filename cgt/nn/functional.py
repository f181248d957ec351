"""Chromatic attention in plain PyTorch: the reference path.

This is the exact math of DESIGN §2 on packed graphs (DESIGN §4), vectorised over
the whole batch. It runs on every device, is what the fused Triton kernel
(:mod:`cgt.kernels`) is tested against, and is float64-gradcheck'd in the tests.
Memory is O(P·C) with P = Σ_g n_g² the number of packed pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["PairIndex", "pair_index", "chromatic_attention"]


@dataclass(frozen=True)
class PairIndex:
    """Where every packed pair (DESIGN §4) lives.

    Attributes:
        pair_ptr: ``[B+1]`` cumulative sums of ``n_g**2``.
        row: ``[P]`` global index of the query node ``i`` of each pair.
        col: ``[P]`` global index of the key node ``j`` of each pair.
        graph: ``[P]`` graph of each pair.
    """

    pair_ptr: Tensor
    row: Tensor
    col: Tensor
    graph: Tensor


def pair_index(ptr: Tensor) -> PairIndex:
    """Builds the packed-pair index of a batch from its node offsets.

    Pair ``p`` of graph ``g`` at local ``(i, j)`` sits at ``pair_ptr[g] + i*n_g + j``.

    Args:
        ptr: ``[B+1]`` node offsets of the graphs (PyG's ``batch.ptr``).

    Returns:
        A :class:`PairIndex` on ``ptr``'s device.
    """
    ptr = ptr.long()
    sizes = ptr[1:] - ptr[:-1]
    squares = sizes * sizes
    pair_ptr = torch.zeros_like(ptr)
    torch.cumsum(squares, 0, out=pair_ptr[1:])
    graph = torch.repeat_interleave(torch.arange(sizes.numel(), device=ptr.device), squares)
    local = torch.arange(graph.numel(), device=ptr.device) - pair_ptr[graph]
    n = sizes[graph]
    start = ptr[graph]
    return PairIndex(pair_ptr=pair_ptr, row=start + local // n, col=start + local % n, graph=graph)


def chromatic_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    pair_att: Tensor,
    pair_val: Tensor,
    ptr: Tensor,
    heads: int,
    dropout_p: float = 0.0,
    dropout_mask: Tensor | None = None,
) -> Tensor:
    r"""Chromatic self-attention on packed graphs (reference implementation).

    .. math::
        a_{ij}^c = \frac{\langle q_i^{h(c)}, k_j^{h(c)} \rangle}{\sqrt{d}} + E^{att}_{ijc},\quad
        \alpha_{ij}^c = \operatorname{softmax}_j a_{ij}^c,\quad
        y_i^c = \sum_j \alpha_{ij}^c \frac{z_{ij}}{1-p} \left(v_j^c + E^{val}_{ijc}\right)

    The softmax runs per channel over the nodes ``j`` of the graph of ``i``
    (the diagonal included). Channel ``c`` belongs to head ``c // (C // heads)``.

    Args:
        q, k, v: ``[N, C]`` projected node features of the packed batch.
        pair_att: ``[P, C]`` per-channel logit bias of every packed pair.
        pair_val: ``[P, C]`` per-channel value term of every packed pair.
        ptr: ``[B+1]`` node offsets; ``P`` must equal ``Σ_g n_g²``.
        heads: number of heads ``H``; ``C`` must be divisible by it.
        dropout_p: attention dropout probability ``p`` (one draw per pair, shared by
            all channels, kept weights scaled by ``1/(1-p)``, no renormalising).
        dropout_mask: optional ``[P]`` bool of kept pairs; drawn from torch's
            generator when ``dropout_p > 0`` and it is ``None``.

    Returns:
        ``[N, C]`` attention output ``y`` (before the output projection), dtype of ``q``.
    """
    num_nodes, channels = q.shape
    if channels % heads != 0:
        raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    index = pair_index(ptr)
    num_pairs = index.row.numel()
    for name, tensor in (("pair_att", pair_att), ("pair_val", pair_val)):
        if tensor.shape != (num_pairs, channels):
            raise ValueError(
                f"{name} has shape {tuple(tensor.shape)}, expected ({num_pairs}, {channels}) "
                "= (sum of n_g**2 over the graphs of ptr, channels)"
            )
    head_dim = channels // heads
    row, col = index.row, index.col

    # Logits a = s + E_att with s the per-head score broadcast over the head's channels.
    # q is scaled before the gather (N·C work instead of P·C); index_select's backward is
    # a plain index_add, cheaper than advanced indexing's accumulate.
    q_rows = (q / math.sqrt(head_dim)).index_select(0, row).view(-1, heads, head_dim)
    scores = (q_rows * k.index_select(0, col).view(-1, heads, head_dim)).sum(-1)
    logits = (pair_att.view(-1, heads, head_dim) + scores[:, :, None]).view(-1, channels)

    # Softmax over j per (row i, channel), in fp32 at least. Subtracting the row
    # maximum (a constant per row) changes nothing mathematically, so it is detached.
    compute_dtype = torch.promote_types(logits.dtype, torch.float32)
    logits = logits.to(compute_dtype)
    with torch.no_grad():
        row_max = torch.full((num_nodes, channels), -math.inf, dtype=compute_dtype, device=q.device)
        row_max.scatter_reduce_(0, row[:, None].expand_as(logits), logits, "amax")
        shift = row_max.index_select(0, row)
    weights = torch.exp(logits - shift)
    norm = weights.new_zeros(num_nodes, channels).index_add(0, row, weights)

    # y_i = Σ_j (w_ij / norm_i) z_ij/(1-p) u_ij: the normaliser is applied after the sum
    # (N·C divisions instead of P·C); dropout scales the numerator only (no renormalising).
    terms = weights * (v.index_select(0, col) + pair_val).to(compute_dtype)
    if dropout_p > 0.0:
        if dropout_mask is None:
            dropout_mask = torch.rand(num_pairs, device=q.device) >= dropout_p
        terms = terms * (dropout_mask.to(compute_dtype) / (1.0 - dropout_p))[:, None]
    elif dropout_mask is not None:
        raise ValueError("dropout_mask was given but dropout_p is 0")

    out = terms.new_zeros(num_nodes, channels).index_add(0, row, terms) / norm
    return out.to(q.dtype)
