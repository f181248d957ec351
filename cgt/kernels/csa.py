"""Fused Chromatic Self-Attention on packed graphs, in Triton (docs/design.md §2, §4, §5).

Algorithm
---------
Chromatic attention has one softmax per (query row i, channel c): the logit of
pair (i, j) in channel c is the head score ``<q_i, k_j>_h / sqrt(d)`` plus the
per-channel bias ``E_att[i, j, c]``. The forward kernel runs one program per
(graph, block of ``BLOCK_M`` query rows, block of heads). It streams the key
blocks of its graph and, like flash-attention but per channel, keeps a running
max ``m``, normaliser ``l`` and accumulator ``acc`` of shape ``[BLOCK_M, channels]``:

    a      = s + E_att[i, j]                      (s = head score, fp32)
    m_new  = max(m, max_j a);  l = l·e^(m-m_new) + Σ_j e^(a-m_new)
    acc    = acc·e^(m-m_new) + Σ_j e^(a-m_new) · z̃_ij · (v_j + E_val[i, j])

with ``z̃_ij = z_ij / (1-p)`` the attention-dropout weight (one draw per pair from
Philox keyed by ``(seed, pair index)``, see :mod:`cgt.kernels.dropout`). It writes
``y = acc / l`` and ``lse = m + log l`` (fp32, one per row and channel).

The backward kernel runs one program per (graph, block of ``BLOCK_N`` keys, block
of heads) and streams the query blocks: it recomputes ``α = exp(a - lse)``, regenerates
the dropout mask and, with ``D_i = dy_i ⊙ y_i``,

    dE_val[i, j] = α z̃ dy_i                     written once per pair
    dE_att[i, j] = α (z̃ dy_i ⊙ (v_j + E_val[i, j]) - D_i)   written once per pair
    dv_j, dk_j   accumulated in registers over the query blocks
    dq_i         one partial sum per (row, key block), written to a scratch buffer

and a last small kernel adds the ``dq`` partials of each row in a fixed order. No
atomics: every element is written by exactly one program, so gradients are
bitwise repeatable run to run.

Memory it saves
---------------
The PyTorch reference materialises several ``[P, C]`` tensors per call (gathered
``q`` and ``k`` rows, logits, weights, probabilities, values, products; P = Σ n_g²)
and keeps most of them for the backward. Here nothing of size ``P×C`` is
allocated besides the inputs and their gradients: the forward keeps ``y`` and
``lse`` (``N×C`` each) for the backward, the backward needs an extra
``N×C×ceil(n/BLOCK_N)`` fp32 scratch for the ``dq`` partials. Each call reads
``E_att`` and ``E_val`` once in the forward and once in the backward, and writes
their gradients once.

Limits
------
- Inputs must be CUDA tensors (or CPU tensors under ``TRITON_INTERPRET=1``), fp32,
  fp16 or bf16, all of one dtype; logits and statistics are fp32, outputs take the
  input dtype. Offsets are int64, so ``P·C`` may exceed 2³¹ elements. Tensors of
  any strides are accepted (the custom ops copy the non-contiguous ones).
- Head scores are computed with elementwise products, not tensor-core matmuls:
  the kernel is built for small graphs and small heads (molecules, d = 8), where
  the bytes of ``E_att``/``E_val`` bound the time. A query block reads its graph's
  keys ``ceil(n / BLOCK_N)`` times, so very large graphs are not its target.
- The channel count must be divisible by ``heads``; the head size is padded to a
  power of two inside the kernel (masked), so any head size works.
- Building the table of programs for a new ``ptr`` copies a few totals to the host
  (one synchronisation); it is reused while the same ``ptr`` tensor comes back
  unmodified (the layers of a model and their backward), but it makes the first
  call of a batch impossible to capture in a CUDA graph. A ``ptr`` made under
  ``torch.inference_mode()`` has no version counter to tell whether it changed: its
  table is rebuilt on every call (one synchronisation per layer).
"""

from __future__ import annotations

import contextlib
import math
import os
import weakref
from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor

from cgt.kernels import _buffers
from cgt.kernels.dropout import keep_pair
from cgt.packing import pair_ptr

__all__ = ["chromatic_attention"]

_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


# ----------------------------------------------------------------------------------
# Host-side helpers: validation and the table of programs
# ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Blocks:
    """Tile shape of the kernels (compile-time constants)."""

    block_m: int
    block_n: int
    heads_per_program: int
    head_dim_pad: int
    num_warps: int


def _blocks(
    channels: int,
    heads: int,
    block_m: int,
    block_n: int,
    heads_per_program: int | None,
    num_warps: int,
) -> _Blocks:
    head_dim_pad = triton.next_power_of_2(channels // heads)
    if heads_per_program is None:
        # About 16 channels per program: with the default 16×8 tile and 4 warps the
        # kernels compile for sm_90 to at most 168 registers and no spills
        # (benchmarks/kernels/compile_check.py).
        heads_per_program = max(1, min(triton.next_power_of_2(heads), 16 // head_dim_pad))
    for name, value in (
        ("block_m", block_m),
        ("block_n", block_n),
        ("heads_per_program", heads_per_program),
        ("num_warps", num_warps),
    ):
        if value < 1 or value & (value - 1):
            raise ValueError(f"{name} must be a power of two, got {value}")
    return _Blocks(block_m, block_n, heads_per_program, head_dim_pad, num_warps)


def _check_inputs(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    pair_att: Tensor,
    pair_val: Tensor,
    ptr: Tensor,
    heads: int,
    dropout_p: float,
) -> None:
    """Shape, dtype and device checks that need no look at ``ptr``'s values."""
    if q.dim() != 2:
        raise ValueError(f"q must be [N, C], got shape {tuple(q.shape)}")
    for name, tensor in (("k", k), ("v", v)):
        if tensor.shape != q.shape:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}, q has {tuple(q.shape)}")
    channels = q.shape[1]
    if channels < 1 or heads < 1 or channels % heads != 0:
        raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
    for name, tensor in (("pair_att", pair_att), ("pair_val", pair_val)):
        if tensor.dim() != 2 or tensor.shape[1] != channels:
            raise ValueError(
                f"{name} must be [P, {channels}] (P = sum of n_g**2), got {tuple(tensor.shape)}"
            )
    for name, tensor in (("k", k), ("v", v), ("pair_att", pair_att), ("pair_val", pair_val)):
        if tensor.dtype != q.dtype:
            raise TypeError(f"{name} is {tensor.dtype} but q is {q.dtype}; use one dtype")
        if tensor.device != q.device:
            raise ValueError(f"{name} is on {tensor.device} but q is on {q.device}")
    if q.dtype not in _DTYPES:
        raise TypeError(f"q must be float32, float16 or bfloat16, got {q.dtype}")
    if ptr.dim() != 1 or ptr.numel() < 1 or ptr.dtype.is_floating_point or ptr.dtype == torch.bool:
        raise ValueError(
            f"ptr must be a 1-D integer tensor of B+1 offsets, got {ptr.dtype} "
            f"of shape {tuple(ptr.shape)}"
        )
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    interpreted = os.environ.get("TRITON_INTERPRET", "0") == "1"
    if not (q.is_cuda or (interpreted and q.device.type == "cpu")):
        raise ValueError(
            f"cgt.kernels.chromatic_attention needs CUDA tensors (got {q.device}); on CPU use "
            "cgt.nn.functional.chromatic_attention, or set TRITON_INTERPRET=1 before importing "
            "cgt.kernels to run the kernel through Triton's interpreter"
        )


@dataclass(frozen=True)
class _Layout:
    """Per-graph offsets and the tables of programs of one packed batch."""

    ptr: Tensor  # [B+1] int64 node offsets
    pair_ptr: Tensor  # [B+1] int64 pair offsets (cgt.packing.pair_ptr)
    part_ptr: Tensor  # [B+1] int64 offsets of the dq partial rows (cumulative n_g·⌈n_g/BN⌉)
    query_graph: Tensor  # [Bq] int32 graph of each query block
    query_start: Tensor  # [Bq] int32 first local row of each query block
    key_graph: Tensor  # [Bk] int32 graph of each key block
    key_start: Tensor  # [Bk] int32 first local column of each key block
    num_part_rows: int


def _block_table(sizes: Tensor, block: int, total: int) -> tuple[Tensor, Tensor]:
    """(graph, first local index) of every block of ``block`` nodes, graph by graph."""
    counts = (sizes + block - 1) // block
    graph = torch.repeat_interleave(
        torch.arange(sizes.numel(), device=sizes.device), counts, output_size=total
    )
    first = torch.cumsum(counts, 0) - counts
    start = (torch.arange(total, device=sizes.device) - first[graph]) * block
    return graph.to(torch.int32), start.to(torch.int32)


def _build_layout(ptr: Tensor, num_nodes: int, num_pairs: int, blocks: _Blocks) -> _Layout:
    """Validates ``ptr`` against the node and pair counts and builds the block tables.

    One device-to-host copy: the totals that size the grids and the checks.
    """
    ptr = ptr.long()
    sizes = ptr[1:] - ptr[:-1]
    pair_offsets = pair_ptr(ptr)
    key_counts = (sizes + blocks.block_n - 1) // blocks.block_n
    part_ptr = torch.zeros_like(ptr)
    torch.cumsum(sizes * key_counts, 0, out=part_ptr[1:])
    decreasing = sizes < 0
    first_bad = torch.argmax(decreasing.int()) if sizes.numel() else ptr.new_zeros(())
    start, end, pairs, num_query, num_key, num_part, num_bad, bad = torch.stack(
        [
            ptr[0],
            ptr[-1],
            pair_offsets[-1],
            ((sizes + blocks.block_m - 1) // blocks.block_m).sum(),
            key_counts.sum(),
            part_ptr[-1],
            decreasing.sum(),
            first_bad,
        ]
    ).tolist()
    if start != 0 or end != num_nodes:
        raise ValueError(
            f"ptr must run from 0 to N = {num_nodes}, got ptr[0] = {start}, ptr[-1] = {end}"
        )
    if num_bad:
        raise ValueError(f"ptr must be non-decreasing: ptr[{bad + 1}] < ptr[{bad}]")
    if pairs != num_pairs:
        raise ValueError(
            f"pair_att and pair_val have {num_pairs} rows, expected {pairs} "
            "(the sum of n_g**2 over the graphs of ptr)"
        )
    query_graph, query_start = _block_table(sizes, blocks.block_m, num_query)
    key_graph, key_start = _block_table(sizes, blocks.block_n, num_key)
    return _Layout(
        ptr, pair_offsets, part_ptr, query_graph, query_start, key_graph, key_start, num_part
    )


#: The last layout built, keyed by its ``ptr`` tensor (a weak reference, its version
#: counter and the sizes), so the layers of a model, which share one ``ptr``, and
#: their backward build the tables and synchronise with the device once per batch.
_LAST_LAYOUT: list[tuple[weakref.ref, tuple, _Layout]] = []


def _layout(ptr: Tensor, num_nodes: int, num_pairs: int, blocks: _Blocks) -> _Layout:
    """:func:`_build_layout`, reused while ``ptr`` is the same unmodified tensor.

    An inference tensor (made under ``torch.inference_mode()``) has no version counter,
    so nothing tells whether it was modified in place: its layout is built every call.
    """
    if ptr.is_inference():
        return _build_layout(ptr, num_nodes, num_pairs, blocks)
    key = (ptr._version, num_nodes, num_pairs, blocks.block_m, blocks.block_n)
    if _LAST_LAYOUT:
        ref, last_key, layout = _LAST_LAYOUT[0]
        if ref() is ptr and last_key == key:
            return layout
    layout = _build_layout(ptr, num_nodes, num_pairs, blocks)
    _LAST_LAYOUT[:] = [(weakref.ref(ptr), key, layout)]
    return layout


# ----------------------------------------------------------------------------------
# Triton helpers
# ----------------------------------------------------------------------------------


@triton.jit
def _channels(
    head_block, HEADS: tl.constexpr, HEAD_DIM: tl.constexpr, HB: tl.constexpr, D_PAD: tl.constexpr
):
    """[HB, D_PAD] channel indices of a block of heads, and which of them exist."""
    head = head_block * HB + tl.arange(0, HB)
    dim = tl.arange(0, D_PAD)
    chan = head[:, None] * HEAD_DIM + dim[None, :]
    chan_ok = (head[:, None] < HEADS) & (dim[None, :] < HEAD_DIM)
    return chan, chan_ok


@triton.jit
def _load_nodes(base, node, node_ok, chan, chan_ok, C: tl.constexpr):
    """[B, HB, D_PAD] fp32 tile of rows ``node`` (int32, relative to ``base``) of a [*, C]
    tensor, zero where masked."""
    offs = node[:, None, None] * C + chan[None, :, :]
    mask = node_ok[:, None, None] & chan_ok[None, :, :]
    return tl.load(base + offs, mask=mask, other=0.0).to(tl.float32)


@triton.jit
def _store_nodes(base, tile, node, node_ok, chan, chan_ok, C: tl.constexpr):
    offs = node[:, None, None] * C + chan[None, :, :]
    mask = node_ok[:, None, None] & chan_ok[None, :, :]
    tl.store(base + offs, tile.to(base.dtype.element_ty), mask=mask)


@triton.jit
def _pair_offsets(cols, n, row_ok, col_ok, chan, chan_ok, C: tl.constexpr):
    """Offsets [BM, BN, HB, D_PAD] of the pairs (row0 + r, cols) of a tile, relative to
    pair (row0, 0), and their mask. int32 is enough: BLOCK_M·n·C < 2³¹."""
    rel = tl.arange(0, row_ok.shape[0])[:, None] * n + cols[None, :]
    offs = rel[:, :, None, None] * C + chan[None, None, :, :]
    mask = (row_ok[:, None] & col_ok[None, :])[:, :, None, None] & chan_ok[None, None, :, :]
    return rel, offs, mask


@triton.jit
def _logits(q, k, att):
    """Per-channel logits [BM, BN, HB, D_PAD]: head score of (q_i, k_j) plus E_att.

    ``q`` is pre-scaled by 1/sqrt(d); padded channels of q and k are zero.
    """
    score = tl.sum(q[:, None, :, :] * k[None, :, :, :], axis=3)
    return score[:, :, :, None] + att


@triton.jit
def _graph(PTR, PAIR_PTR, BLOCK_GRAPH, BLOCK_START):
    """Graph of this program: first node, size, first pair (int64) and block start."""
    block = tl.program_id(0)
    graph = tl.load(BLOCK_GRAPH + block)
    node0 = tl.load(PTR + graph)
    n = (tl.load(PTR + graph + 1) - node0).to(tl.int32)
    return graph, node0, n, tl.load(PAIR_PTR + graph), tl.load(BLOCK_START + block)


# ----------------------------------------------------------------------------------
# Forward kernel
# ----------------------------------------------------------------------------------


# Triton would specialise ``seed`` (one compiled kernel for 1, one for multiples of 16,
# one for the rest): a fresh seed per call would recompile about one call in 16.
@triton.jit(do_not_specialize=["seed"])
def _csa_fwd_kernel(
    Q, K, V, ATT, VAL, Y, LSE,
    PTR, PAIR_PTR, BLOCK_GRAPH, BLOCK_START,
    seed, p_drop, keep_scale, sm_scale,
    C: tl.constexpr, HEADS: tl.constexpr, HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, HB: tl.constexpr, D_PAD: tl.constexpr,
    DROPOUT: tl.constexpr,
):  # fmt: skip
    graph, node0, n, pair0, row0 = _graph(PTR, PAIR_PTR, BLOCK_GRAPH, BLOCK_START)
    chan, chan_ok = _channels(tl.program_id(1), HEADS, HEAD_DIM, HB, D_PAD)
    # Scalar int64 bases; tile offsets below are int32 and relative to them.
    Q, K, V, Y, LSE = Q + node0 * C, K + node0 * C, V + node0 * C, Y + node0 * C, LSE + node0 * C
    pair_row0 = pair0 + row0 * n.to(tl.int64)  # pair (row0, 0)
    ATT, VAL = ATT + pair_row0 * C, VAL + pair_row0 * C

    rows = row0 + tl.arange(0, BLOCK_M)
    row_ok = rows < n
    q = _load_nodes(Q, rows, row_ok, chan, chan_ok, C) * sm_scale
    m = tl.full([BLOCK_M, HB, D_PAD], float("-inf"), tl.float32)
    norm = tl.zeros([BLOCK_M, HB, D_PAD], tl.float32)
    acc = tl.zeros([BLOCK_M, HB, D_PAD], tl.float32)
    for col0 in range(0, n, BLOCK_N):
        cols = col0 + tl.arange(0, BLOCK_N)
        col_ok = cols < n
        k = _load_nodes(K, cols, col_ok, chan, chan_ok, C)
        rel, offs, mask = _pair_offsets(cols, n, row_ok, col_ok, chan, chan_ok, C)
        att = tl.load(ATT + offs, mask=mask, other=0.0).to(tl.float32)
        logit = _logits(q, k, att)
        logit = tl.where(col_ok[None, :, None, None], logit, float("-inf"))
        # Every key block holds at least one real column, so m_new is finite.
        m_new = tl.maximum(m, tl.max(logit, axis=1))
        rescale = tl.exp(m - m_new)
        weight = tl.exp(logit - m_new[:, None, :, :])
        norm = norm * rescale + tl.sum(weight, axis=1)
        if DROPOUT:
            kept = tl.where(keep_pair(seed, pair_row0 + rel, p_drop), keep_scale, 0.0)
            weight = weight * kept[:, :, None, None]
        v = _load_nodes(V, cols, col_ok, chan, chan_ok, C)
        val = tl.load(VAL + offs, mask=mask, other=0.0).to(tl.float32)
        acc = acc * rescale + tl.sum(weight * (v[None, :, :, :] + val), axis=1)
        m = m_new

    _store_nodes(Y, acc / norm, rows, row_ok, chan, chan_ok, C)
    _store_nodes(LSE, m + tl.log(norm), rows, row_ok, chan, chan_ok, C)


# ----------------------------------------------------------------------------------
# Backward kernels
# ----------------------------------------------------------------------------------


@triton.jit(do_not_specialize=["seed"])  # as the forward kernel
def _csa_bwd_kernel(
    Q, K, V, ATT, VAL, Y, DY, LSE,
    DQ_PART, DK, DV, DATT, DVAL,
    PTR, PAIR_PTR, PART_PTR, BLOCK_GRAPH, BLOCK_START,
    seed, p_drop, keep_scale, sm_scale,
    C: tl.constexpr, HEADS: tl.constexpr, HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, HB: tl.constexpr, D_PAD: tl.constexpr,
    DROPOUT: tl.constexpr,
):  # fmt: skip
    graph, node0, n, pair0, col0 = _graph(PTR, PAIR_PTR, BLOCK_GRAPH, BLOCK_START)
    chan, chan_ok = _channels(tl.program_id(1), HEADS, HEAD_DIM, HB, D_PAD)
    Q, K, V, Y, DY, LSE = (
        Q + node0 * C,
        K + node0 * C,
        V + node0 * C,
        Y + node0 * C,
        DY + node0 * C,
        LSE + node0 * C,
    )
    DK, DV = DK + node0 * C, DV + node0 * C
    # dq partials of this key block: n rows from part0 in DQ_PART.
    part0 = tl.load(PART_PTR + graph) + (col0 // BLOCK_N) * n.to(tl.int64)
    DQ_PART = DQ_PART + part0 * C

    cols = col0 + tl.arange(0, BLOCK_N)
    col_ok = cols < n
    k = _load_nodes(K, cols, col_ok, chan, chan_ok, C)
    v = _load_nodes(V, cols, col_ok, chan, chan_ok, C)
    dk = tl.zeros([BLOCK_N, HB, D_PAD], tl.float32)
    dv = tl.zeros([BLOCK_N, HB, D_PAD], tl.float32)
    for row0 in range(0, n, BLOCK_M):
        rows = row0 + tl.arange(0, BLOCK_M)
        row_ok = rows < n
        q = _load_nodes(Q, rows, row_ok, chan, chan_ok, C) * sm_scale
        lse = _load_nodes(LSE, rows, row_ok, chan, chan_ok, C)
        pair_row0 = pair0 + row0 * n.to(tl.int64)
        rel, offs, mask = _pair_offsets(cols, n, row_ok, col_ok, chan, chan_ok, C)
        att = tl.load(ATT + pair_row0 * C + offs, mask=mask, other=0.0).to(tl.float32)
        prob = tl.exp(_logits(q, k, att) - lse[:, None, :, :])
        prob = tl.where(mask, prob, 0.0)
        dy = _load_nodes(DY, rows, row_ok, chan, chan_ok, C)
        if DROPOUT:
            kept = tl.where(keep_pair(seed, pair_row0 + rel, p_drop), keep_scale, 0.0)
            kept_dy = kept[:, :, None, None] * dy[:, None, :, :]
        else:
            kept_dy = dy[:, None, :, :]
        dval = prob * kept_dy
        tl.store(DVAL + pair_row0 * C + offs, dval.to(DVAL.dtype.element_ty), mask=mask)
        dv += tl.sum(dval, axis=0)
        delta = dy * _load_nodes(Y, rows, row_ok, chan, chan_ok, C)
        val = tl.load(VAL + pair_row0 * C + offs, mask=mask, other=0.0).to(tl.float32)
        dlogit = prob * (kept_dy * (v[None, :, :, :] + val) - delta[:, None, :, :])
        tl.store(DATT + pair_row0 * C + offs, dlogit.to(DATT.dtype.element_ty), mask=mask)

        dscore = tl.sum(dlogit, axis=3)[:, :, :, None]  # [BM, BN, HB, 1]
        dk += tl.sum(dscore * q[:, None, :, :], axis=0)
        dq = tl.sum(dscore * k[None, :, :, :], axis=1) * sm_scale
        _store_nodes(DQ_PART, dq, rows, row_ok, chan, chan_ok, C)

    _store_nodes(DK, dk, cols, col_ok, chan, chan_ok, C)
    _store_nodes(DV, dv, cols, col_ok, chan, chan_ok, C)


@triton.jit
def _dq_reduce_kernel(
    DQ_PART, DQ,
    PTR, PAIR_PTR, PART_PTR, BLOCK_GRAPH, BLOCK_START,
    C: tl.constexpr, HEADS: tl.constexpr, HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, HB: tl.constexpr, D_PAD: tl.constexpr,
):  # fmt: skip
    """dq of a block of rows: the sum of its key blocks' partials, in key-block order."""
    graph, node0, n, pair0, row0 = _graph(PTR, PAIR_PTR, BLOCK_GRAPH, BLOCK_START)
    chan, chan_ok = _channels(tl.program_id(1), HEADS, HEAD_DIM, HB, D_PAD)
    part0 = tl.load(PART_PTR + graph)

    rows = row0 + tl.arange(0, BLOCK_M)
    row_ok = rows < n
    dq = tl.zeros([BLOCK_M, HB, D_PAD], tl.float32)
    for col0 in range(0, n, BLOCK_N):
        part = DQ_PART + (part0 + (col0 // BLOCK_N) * n.to(tl.int64)) * C
        dq += _load_nodes(part, rows, row_ok, chan, chan_ok, C)
    _store_nodes(DQ + node0 * C, dq, rows, row_ok, chan, chan_ok, C)


# ----------------------------------------------------------------------------------
# Launchers
# ----------------------------------------------------------------------------------


def _device_of(tensor: Tensor):
    """Makes the tensor's GPU the current one while kernels launch (Triton uses it)."""
    return torch.cuda.device(tensor.device) if tensor.is_cuda else contextlib.nullcontext()


def _constexprs(channels: int, heads: int, blocks: _Blocks) -> dict:
    return dict(
        C=channels,
        HEADS=heads,
        HEAD_DIM=channels // heads,
        BLOCK_M=blocks.block_m,
        BLOCK_N=blocks.block_n,
        HB=blocks.heads_per_program,
        D_PAD=blocks.head_dim_pad,
        num_warps=blocks.num_warps,
    )


def _dropout_args(dropout_p: float, seed: Tensor | None) -> tuple[int, float, float]:
    if dropout_p == 0.0:
        return 0, 0.0, 1.0
    return int(seed), dropout_p, 1.0 / (1.0 - dropout_p)


def _forward(
    q: Tensor, k: Tensor, v: Tensor, pair_att: Tensor, pair_val: Tensor, ptr: Tensor,
    heads: int, dropout_p: float, seed: Tensor | None, blocks: _Blocks,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    num_nodes, channels = q.shape
    layout = _layout(ptr, num_nodes, pair_att.shape[0], blocks)
    y = _buffers.empty(q.shape, q.dtype, q.device)
    lse = _buffers.empty(q.shape, torch.float32, q.device)
    num_blocks = layout.query_graph.numel()
    if num_blocks == 0:
        return y, lse
    grid = (num_blocks, triton.cdiv(heads, blocks.heads_per_program))
    _csa_fwd_kernel[grid](
        q, k, v, pair_att, pair_val, y, lse,
        layout.ptr, layout.pair_ptr, layout.query_graph, layout.query_start,
        *_dropout_args(dropout_p, seed), 1.0 / math.sqrt(channels // heads),
        DROPOUT=dropout_p > 0.0, **_constexprs(channels, heads, blocks),
    )  # fmt: skip
    return y, lse


def _backward(
    dy: Tensor, q: Tensor, k: Tensor, v: Tensor, pair_att: Tensor, pair_val: Tensor,
    ptr: Tensor, y: Tensor, lse: Tensor, heads: int, dropout_p: float, seed: Tensor | None,
    blocks: _Blocks,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    num_nodes, channels = q.shape
    layout = _layout(ptr, num_nodes, pair_att.shape[0], blocks)
    dq, dk, dv = (_buffers.empty(q.shape, q.dtype, q.device) for _ in range(3))
    datt, dval = (_buffers.empty(pair_att.shape, q.dtype, q.device) for _ in range(2))
    dq_part = _buffers.empty((layout.num_part_rows, channels), torch.float32, q.device)
    if layout.key_graph.numel() == 0:
        return dq, dk, dv, datt, dval
    head_blocks = triton.cdiv(heads, blocks.heads_per_program)
    constexprs = _constexprs(channels, heads, blocks)
    _csa_bwd_kernel[(layout.key_graph.numel(), head_blocks)](
        q, k, v, pair_att, pair_val, y, dy, lse,
        dq_part, dk, dv, datt, dval,
        layout.ptr, layout.pair_ptr, layout.part_ptr, layout.key_graph, layout.key_start,
        *_dropout_args(dropout_p, seed), 1.0 / math.sqrt(channels // heads),
        DROPOUT=dropout_p > 0.0, **constexprs,
    )  # fmt: skip
    _dq_reduce_kernel[(layout.query_graph.numel(), head_blocks)](
        dq_part, dq, layout.ptr, layout.pair_ptr, layout.part_ptr,
        layout.query_graph, layout.query_start, **constexprs,
    )  # fmt: skip
    return dq, dk, dv, datt, dval


# ----------------------------------------------------------------------------------
# Custom ops (torch.compile sees them as opaque) and their autograd
# ----------------------------------------------------------------------------------


@torch.library.custom_op("cgt::chromatic_attention_fwd", mutates_args=())
def _fwd_op(
    q: Tensor, k: Tensor, v: Tensor, pair_att: Tensor, pair_val: Tensor, ptr: Tensor,
    heads: int, dropout_p: float, seed: Tensor | None,
    block_m: int, block_n: int, heads_per_program: int, num_warps: int,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Returns ``(y [N, C] in q's dtype, lse [N, C] fp32)``."""
    # The kernels index every tensor as dense row-major memory.
    q, k, v, pair_att, pair_val, ptr = (t.contiguous() for t in (q, k, v, pair_att, pair_val, ptr))
    blocks = _blocks(q.shape[1], heads, block_m, block_n, heads_per_program, num_warps)
    with _device_of(q):
        return _forward(q, k, v, pair_att, pair_val, ptr, heads, dropout_p, seed, blocks)


@_fwd_op.register_fake
def _fwd_fake(q, k, v, pair_att, pair_val, ptr, heads, dropout_p, seed, *blocks):
    # Contiguous whatever the inputs' strides, as the kernels' outputs.
    return q.new_empty(q.shape), q.new_empty(q.shape, dtype=torch.float32)


@torch.library.custom_op("cgt::chromatic_attention_bwd", mutates_args=())
def _bwd_op(
    dy: Tensor, q: Tensor, k: Tensor, v: Tensor, pair_att: Tensor, pair_val: Tensor,
    ptr: Tensor, y: Tensor, lse: Tensor, heads: int, dropout_p: float, seed: Tensor | None,
    block_m: int, block_n: int, heads_per_program: int, num_warps: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """Returns ``(dq, dk, dv, dpair_att, dpair_val)``."""
    # Dense row-major, as the kernels index them (autograd's dy often is not: an expand).
    dy, q, k, v, pair_att, pair_val, ptr, y, lse = (
        t.contiguous() for t in (dy, q, k, v, pair_att, pair_val, ptr, y, lse)
    )
    blocks = _blocks(q.shape[1], heads, block_m, block_n, heads_per_program, num_warps)
    with _device_of(q):
        return _backward(
            dy, q, k, v, pair_att, pair_val, ptr, y, lse, heads, dropout_p, seed, blocks
        )


@_bwd_op.register_fake
def _bwd_fake(dy, q, k, v, pair_att, pair_val, *rest):
    return (
        *(q.new_empty(q.shape) for _ in range(3)),
        *(q.new_empty(pair_att.shape) for _ in range(2)),
    )


def _setup_context(ctx, inputs, output) -> None:
    q, k, v, pair_att, pair_val, ptr, heads, dropout_p, seed, *blocks = inputs
    y, lse = output
    ctx.mark_non_differentiable(lse)
    ctx.save_for_backward(q, k, v, pair_att, pair_val, ptr, y, lse, seed)
    ctx.heads, ctx.dropout_p, ctx.blocks = heads, dropout_p, blocks


def _backward_autograd(ctx, dy: Tensor, _dlse: Tensor | None):
    q, k, v, pair_att, pair_val, ptr, y, lse, seed = ctx.saved_tensors
    grads = _bwd_op(
        dy, q, k, v, pair_att, pair_val, ptr, y, lse, ctx.heads, ctx.dropout_p, seed, *ctx.blocks
    )
    return (*grads, None, None, None, None, None, None, None, None)


_fwd_op.register_autograd(_backward_autograd, setup_context=_setup_context)


# ----------------------------------------------------------------------------------
# Public function
# ----------------------------------------------------------------------------------


def chromatic_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    pair_att: Tensor,
    pair_val: Tensor,
    ptr: Tensor,
    heads: int,
    dropout_p: float = 0.0,
    seed: int | None = None,
    *,
    block_m: int = 16,
    block_n: int = 8,
    heads_per_program: int | None = None,
    num_warps: int = 4,
) -> Tensor:
    r"""Chromatic self-attention on packed graphs, fused (forward and backward).

    Same meaning as :func:`cgt.nn.functional.chromatic_attention` (docs/design.md §2):
    :math:`y_i^c = \sum_j \operatorname{softmax}_j(s_{ij}^{h(c)} + E^{att}_{ijc})
    \frac{z_{ij}}{1-p} (v_j^c + E^{val}_{ijc})`, differentiable in ``q``, ``k``,
    ``v``, ``pair_att`` and ``pair_val``.

    Args:
        q, k, v: ``[N, C]`` projected node features of the packed batch (CUDA; fp32,
            fp16 or bf16, one dtype for all five tensors).
        pair_att: ``[P, C]`` per-channel logit bias of every packed pair (docs/design.md §4).
        pair_val: ``[P, C]`` per-channel value term of every packed pair.
        ptr: ``[B+1]`` node offsets of the graphs; ``P`` must equal ``Σ_g n_g²``.
        heads: number of heads ``H``; ``C`` must be divisible by it.
        dropout_p: attention dropout probability (one draw per pair, shared by all
            channels, kept weights scaled by ``1/(1-p)``).
        seed: seed of the dropout mask (see :func:`cgt.kernels.dropout_mask`, which
            returns the same mask); ``None`` draws it from torch's default generator,
            so ``torch.manual_seed`` / ``seed_everything`` make runs reproducible.
        block_m, block_n: query rows and keys per tile (powers of two).
        heads_per_program: heads per program (a power of two; default: about 16
            channels per program).
        num_warps: warps per program.

    Returns:
        ``[N, C]`` attention output ``y`` (before the output projection), dtype of ``q``.
    """
    _check_inputs(q, k, v, pair_att, pair_val, ptr, heads, dropout_p)
    blocks = _blocks(q.shape[1], heads, block_m, block_n, heads_per_program, num_warps)
    seed_tensor = None
    if dropout_p > 0.0:
        if seed is None:
            seed_tensor = torch.randint(0, 2**31 - 1, (), dtype=torch.int64)
        elif not 0 <= int(seed) < 2**63:
            raise ValueError(f"seed must be in [0, 2**63), got {seed}")
        else:
            seed_tensor = torch.tensor(int(seed), dtype=torch.int64)
    y, _ = _fwd_op(
        q, k, v, pair_att, pair_val, ptr.to(q.device), heads, float(dropout_p), seed_tensor,
        blocks.block_m, blocks.block_n, blocks.heads_per_program, blocks.num_warps,
    )  # fmt: skip
    return y
