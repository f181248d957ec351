"""Packed pairs: where every ordered pair of atoms of a batch sits (docs/design.md §4).

A batch packs its graphs' nodes one after another (PyTorch Geometric's ``x`` and ``ptr``)
and every ordered pair ``(i, j)`` of each graph row-major inside its graph, graphs one
after another: ``P = Σ_g n_g²`` pairs, and pair ``(i, j)`` of graph ``g`` (local indices)
at ``pair_ptr[g] + i·n_g + j``. This module is the one place that computes that layout;
the attention (reference and kernel), the pair features and the model all read it here.
It needs nothing but PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["PairIndex", "pair_ptr", "pair_index", "pair_position"]


@dataclass(frozen=True)
class PairIndex:
    """Where every packed pair of a batch lives.

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


def pair_ptr(ptr: Tensor) -> Tensor:
    """``[B+1]`` int64 pair offsets of the graphs: ``0`` then the cumulative sums of ``n_g²``.

    Args:
        ptr: ``[B+1]`` node offsets of the graphs (PyG's ``batch.ptr``), any integer dtype.
    """
    ptr = ptr.long()
    sizes = ptr[1:] - ptr[:-1]
    out = torch.zeros_like(ptr)
    torch.cumsum(sizes * sizes, 0, out=out[1:])
    return out


def pair_index(ptr: Tensor) -> PairIndex:
    """The packed-pair index of a batch from its node offsets.

    Args:
        ptr: ``[B+1]`` node offsets of the graphs (PyG's ``batch.ptr``).

    Returns:
        A :class:`PairIndex` on ``ptr``'s device (int64 tensors).
    """
    ptr = ptr.long()
    sizes = ptr[1:] - ptr[:-1]
    offsets = pair_ptr(ptr)
    graph = torch.repeat_interleave(torch.arange(sizes.numel(), device=ptr.device), sizes * sizes)
    local = torch.arange(graph.numel(), device=ptr.device) - offsets[graph]
    n = sizes[graph]
    start = ptr[graph]
    return PairIndex(pair_ptr=offsets, row=start + local // n, col=start + local % n, graph=graph)


def pair_position(
    ptr: Tensor, pair_offsets: Tensor, node_graph: Tensor, a: Tensor, b: Tensor
) -> Tensor:
    """Packed position of the pairs ``(a, b)`` of global node indices.

    Args:
        ptr: ``[B+1]`` node offsets of the graphs.
        pair_offsets: ``[B+1]`` pair offsets, :func:`pair_ptr` of ``ptr``.
        node_graph: ``[N]`` graph of every node (PyG's ``batch.batch``).
        a, b: ``[M]`` global indices of nodes; ``a[m]`` and ``b[m]`` of the same graph.

    Returns:
        ``[M]`` int64: the row of pair ``(a[m], b[m])`` among the ``P`` packed pairs.
    """
    graph = node_graph[a]
    start = ptr[graph]
    n = ptr[graph + 1] - start
    return pair_offsets[graph] + (a - start) * n + (b - start)
