"""Chromatic attention in plain PyTorch: the reference path.

This is the exact math of docs/design.md §2 on packed graphs (§4), vectorised over the
whole batch, with a hand-written backward (§2's formulas). It runs on every device, is
what the fused Triton kernel (:mod:`cgt.kernels`) is tested against, and is
float64-gradcheck'd in the tests. Memory is O(P·C) with P = Σ_g n_g² the number of
packed pairs.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from cgt.packing import PairIndex, pair_index

__all__ = ["chromatic_attention", "attention_weights"]


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

    Gradients come from a hand-written backward (docs/design.md §2) for all five tensors; it is
    first-order only: differentiating it again (double backward) raises a ``RuntimeError``.
    Statistics (logits, softmax, sums) are computed in fp32 for fp16/bf16 inputs.
    """
    num_nodes, channels = q.shape
    if channels % heads != 0:
        raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    layout = _layout(tuple(ptr.tolist()), ptr.device)
    num_pairs = layout.index.row.numel()
    for name, tensor in (("pair_att", pair_att), ("pair_val", pair_val)):
        if tensor.shape != (num_pairs, channels):
            raise ValueError(
                f"{name} has shape {tuple(tensor.shape)}, expected ({num_pairs}, {channels}) "
                "= (sum of n_g**2 over the graphs of ptr, channels)"
            )
    keep_scale = None
    if dropout_p > 0.0:
        if dropout_mask is None:
            dropout_mask = torch.rand(num_pairs, device=q.device) >= dropout_p
        dtype = torch.promote_types(torch.promote_types(q.dtype, pair_att.dtype), torch.float32)
        keep_scale = (dropout_mask.to(dtype) / (1.0 - dropout_p))[:, None]
    elif dropout_mask is not None:
        raise ValueError("dropout_mask was given but dropout_p is 0")
    return _PackedAttention.apply(q, k, v, pair_att, pair_val, layout, heads, keep_scale)


def attention_weights(q: Tensor, k: Tensor, pair_att: Tensor, ptr: Tensor, heads: int) -> Tensor:
    r"""The attention weights :math:`\alpha_{ij}^c` of every packed pair and channel.

    :math:`\alpha_{ij}^c = \operatorname{softmax}_j (s_{ij}^{h(c)} + E^{att}_{ijc})`, the
    weights :func:`chromatic_attention` applies before dropout, in plain differentiable
    PyTorch (fp32 at least). For every node ``i`` and channel ``c`` they sum to 1 over the
    nodes ``j`` of the graph of ``i``.

    Args:
        q, k: ``[N, C]`` projected node features; pair_att: ``[P, C]``; ptr: ``[B+1]``.
        heads: number of heads ``H``.

    Returns:
        ``[P, C]``, pairs in the packed order of docs/design.md §4.
    """
    num_nodes, channels = q.shape
    if channels % heads != 0:
        raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
    index = pair_index(ptr)
    row, col = index.row, index.col
    if pair_att.shape != (row.numel(), channels):
        raise ValueError(
            f"pair_att has shape {tuple(pair_att.shape)}, expected ({row.numel()}, {channels})"
        )
    dtype = torch.promote_types(torch.promote_types(q.dtype, pair_att.dtype), torch.float32)
    head_dim = channels // heads
    products = (q.to(dtype)[row] * k.to(dtype)[col]).view(-1, heads, head_dim)
    scores = products.sum(-1) / math.sqrt(head_dim)  # [P, H]
    logits = pair_att.to(dtype) + scores.repeat_interleave(head_dim, dim=1)
    row_max = logits.new_full((num_nodes, channels), -math.inf)
    row_max = row_max.scatter_reduce(0, row[:, None].expand_as(logits), logits, "amax")
    w = (logits - row_max[row]).exp()
    norm = w.new_zeros(num_nodes, channels).index_add(0, row, w)
    return w / norm[row]


class _PackedAttention(torch.autograd.Function):
    r"""Forward and hand-written backward of :func:`chromatic_attention` on packed pairs.

    Autograd through the plain formula keeps a dozen ``[P, C]`` intermediates per layer and
    makes about twice as many passes over them; this computes docs/design.md §2 directly, in place
    wherever it owns the buffer. With ``w`` the softmax numerators, ``ζ = z/(1-p)`` the
    dropout scale of each pair (1 without dropout) and ``u = v[col] + E_val``::

        forward   s_ij^h = <q_i^h, k_j^h> / sqrt(d)   (batched matmul on nodes padded per graph)
                  a_ij^c = s_ij^h(c) + E_att[ij,c]
                  w_ij^c = exp(a_ij^c - m_i^c),       norm_i^c = Σ_j w_ij^c
                  t_ij^c = w_ij^c ζ_ij u_ij^c,        y_i^c = Σ_j t_ij^c / norm_i^c
        backward  g = (dy / norm)[row],   α = w / norm[row]
                  dE_val = α ζ dy[row] = w ζ g,                         dv_j = Σ_i dE_val[ij]
                  dE_att = α (ζ dy[row] u - (dy y)[row]) = t g - w ((dy y) / norm)[row]
                  ds^h = Σ_{c∈h} dE_att^c,   dq = ds k / sqrt(d),   dk = dsᵀ q / sqrt(d)

    The shift ``m`` changes nothing mathematically (see ``forward``); logits are kept
    multiplied by log2(e) because ``exp2`` is about 3x faster than ``exp`` on CPU. Saved for
    the backward: ``w`` and ``t`` ([P, C]), ``norm`` and ``y`` ([N, C]) and the padded q, k,
    all in the compute dtype (fp32 at least). The backward is not differentiable itself:
    double backward raises.
    """

    @staticmethod
    def forward(ctx, q, k, v, pair_att, pair_val, layout, heads, keep_scale):
        num_nodes, channels = q.shape
        head_dim = channels // heads
        dtype = torch.promote_types(torch.promote_types(q.dtype, pair_att.dtype), torch.float32)
        row, col = layout.index.row, layout.index.col
        num_pairs = row.numel()
        node_slot, pair_slot = layout.node_slot, layout.pair_slot
        graphs, width = layout.graphs, layout.width

        # Scores of every pair: q and k padded to [B, H, n_max, d], one batched matmul.
        padded = q.new_zeros(2, graphs * width, channels, dtype=dtype)
        padded[0].index_copy_(0, node_slot, q.to(dtype)).mul_(1.0 / math.sqrt(head_dim))
        padded[1].index_copy_(0, node_slot, k.to(dtype))
        q_heads, k_heads = padded.view(2, graphs, width, heads, head_dim).transpose(2, 3)
        scores = torch.matmul(q_heads, k_heads.transpose(-1, -2))  # [B, H, n_max, n_max]
        # Row maximum of the scores over the real nodes j (padding columns masked out).
        score_max = scores.masked_fill_(layout.padding[:, None, None, :], -math.inf).amax(-1)
        score_max = _unpad(score_max[..., None], node_slot)  # [N, H]
        scores = scores.permute(0, 2, 3, 1).reshape(-1, heads).index_select(0, pair_slot)

        # logits·log2(e) = (E_att + s expanded to the head's channels)·log2(e) in one addmm,
        # minus a shift m (softmax is invariant to a shift per row and channel):
        # m_i^c = max_j s_ij^h(c) + max(E_att) bounds a_ij^c from above (every exp2 <= 1) and
        # costs [P, H] work only. Only if a channel then sums to under _TINY (E_att spread
        # over about 40 nats: precision lost) is the softmax redone with the exact
        # per-(row, channel) maximum.
        expand = torch.eye(heads, dtype=dtype, device=q.device).repeat_interleave(head_dim, 1)
        shift = score_max.index_select(0, row).add_(pair_att.max() if num_pairs else 0.0)
        w = torch.addmm(pair_att.to(dtype), scores - shift, expand, beta=_LOG2E, alpha=_LOG2E)
        norm = w.exp2_().new_zeros(num_nodes, channels).index_add_(0, row, w)
        if num_pairs and float(norm.amin()) < _TINY:
            w = torch.addmm(pair_att.to(dtype), scores, expand, beta=_LOG2E, alpha=_LOG2E)
            row_max = w.new_full((num_nodes, channels), -math.inf)
            row_max.scatter_reduce_(0, row[:, None].expand_as(w), w, "amax")
            w.sub_(row_max.index_select(0, row)).exp2_()
            norm = w.new_zeros(num_nodes, channels).index_add_(0, row, w)

        # Normalised after the sum over j (N·C divisions instead of P·C); dropout scales the
        # numerator only (no renormalising).
        t = v.to(dtype).index_select(0, col).add_(pair_val).mul_(w)
        if keep_scale is not None:
            t.mul_(keep_scale)
        y = w.new_zeros(num_nodes, channels).index_add_(0, row, t).div_(norm)
        ctx.heads, ctx.graphs, ctx.width = heads, graphs, width
        ctx.dtypes = (q.dtype, k.dtype, v.dtype, pair_att.dtype, pair_val.dtype)
        ctx.save_for_backward(padded, w, t, norm, y, row, col, node_slot, pair_slot, keep_scale)
        return y.to(q.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        padded, w, t, norm, y, row, col, node_slot, pair_slot, keep_scale = ctx.saved_tensors
        heads, graphs, width = ctx.heads, ctx.graphs, ctx.width
        channels = w.shape[1]
        head_dim = channels // heads
        need_q, need_k, need_v, need_att, need_val = ctx.needs_input_grad[:5]
        grads = [None] * 9

        dy = dy.to(w.dtype).div(norm)  # dy / norm
        g = dy.index_select(0, row)
        if need_v or need_val:
            d_val = w * g
            if keep_scale is not None:
                d_val.mul_(keep_scale)
            if need_v:
                grads[2] = d_val.new_zeros(dy.shape).index_add_(0, col, d_val).to(ctx.dtypes[2])
            if need_val:
                grads[4] = d_val.to(ctx.dtypes[4])
        if not (need_q or need_k or need_att):
            return tuple(grads)
        d_att = g.mul_(t).addcmul_(w, (dy * y).index_select(0, row), value=-1.0)
        if need_att:
            grads[3] = d_att.to(ctx.dtypes[3])
        if need_q or need_k:
            # Σ over the head's channels as a matrix-vector product (faster than sum(-1)),
            # scattered into [B, H, n_max, n_max] for two batched matmuls.
            ds = torch.mv(d_att.view(-1, head_dim), d_att.new_ones(head_dim)).view(-1, heads)
            d_scores = ds.new_zeros(graphs * width * width, heads).index_copy_(0, pair_slot, ds)
            d_scores = d_scores.view(graphs, width, width, heads).permute(0, 3, 1, 2)
            q_heads, k_heads = padded.view(2, graphs, width, heads, head_dim).transpose(2, 3)
            if need_q:
                dq = _unpad(torch.matmul(d_scores, k_heads), node_slot)
                grads[0] = dq.mul_(1.0 / math.sqrt(head_dim)).to(ctx.dtypes[0])
            if need_k:
                dk = _unpad(torch.matmul(d_scores.transpose(-1, -2), q_heads), node_slot)
                grads[1] = dk.to(ctx.dtypes[1])
        return tuple(grads)


_LOG2E = math.log2(math.e)
#: Smallest softmax normaliser accepted after the per-row shift (else per-channel shift).
_TINY = 2.0**-60


class _Layout(NamedTuple):
    """Index tensors of a batch: its pairs, and its nodes and pairs padded per graph."""

    index: PairIndex
    node_slot: Tensor  # [N] position of every node in [B·n_max]
    pair_slot: Tensor  # [P] position of every pair in [B·n_max·n_max]
    padding: Tensor  # [B, n_max] True where a padded slot holds no node
    graphs: int  # B
    width: int  # n_max


@functools.lru_cache(maxsize=4)
def _layout(offsets: tuple[int, ...], device: torch.device) -> _Layout:
    """The :class:`_Layout` of the node offsets ``ptr``, cached: all the layers of a model
    see the same batch (the tensors are only read). Built outside inference mode, so that
    a layout first made while predicting can still be saved for a later backward."""
    with torch.inference_mode(False):
        return _build_layout(torch.tensor(offsets, dtype=torch.long, device=device))


def _build_layout(ptr: Tensor) -> _Layout:
    device = ptr.device
    index = pair_index(ptr)
    sizes = ptr[1:] - ptr[:-1]
    graphs = sizes.numel()
    width = max(int(sizes.max()), 1) if graphs else 1  # 1: no zero-size reductions
    graph_of_node = torch.repeat_interleave(torch.arange(graphs, device=device), sizes)
    local = torch.arange(graph_of_node.numel(), device=device) - ptr[graph_of_node]
    node_slot = graph_of_node * width + local
    pair_slot = node_slot[index.row] * width + local[index.col]
    padding = torch.arange(width, device=device) >= sizes[:, None]
    return _Layout(index, node_slot, pair_slot, padding, graphs, width)


def _unpad(heads_out: Tensor, node_slot: Tensor) -> Tensor:
    """``[B, H, n_max, d]`` back to the packed ``[N, H·d]`` nodes."""
    channels = heads_out.shape[1] * heads_out.shape[3]
    return heads_out.transpose(1, 2).reshape(-1, channels).index_select(0, node_slot)
