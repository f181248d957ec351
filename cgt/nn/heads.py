"""The output head: a per-node MLP followed by a sum or mean over each graph."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["GraphHead", "POOLINGS"]

#: Accepted values of ``pooling``.
POOLINGS = ("sum", "mean")


class GraphHead(nn.Module):
    """Per-node MLP ``C -> C/2 -> C/4 -> T`` (ReLU between), then pooling per graph.

    For the paper's ZINC model (``C = 64``) this is ``64 -> 32 -> 16 -> 1`` and a sum.

    Args:
        channels: node feature size ``C`` (at least 4).
        num_targets: outputs per graph ``T``.
        pooling: ``"sum"`` or ``"mean"`` over the nodes of each graph.

    Shapes:
        - **x**: ``[N, C]``; **batch**: ``[N]`` graph of each node; ``num_graphs``: ``B``.
        - **output**: ``[B, T]``.
    """

    def __init__(self, channels: int, num_targets: int, pooling: str = "sum") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.mlp = nn.Sequential(
            nn.Linear(channels, channels // 2),
            nn.ReLU(),
            nn.Linear(channels // 2, channels // 4),
            nn.ReLU(),
            nn.Linear(channels // 4, num_targets),
        )

    def forward(self, x: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        """Pools the per-node outputs of every graph; shapes in the class docstring."""
        return self.pool(self.node_outputs(x), batch, num_graphs)

    def node_outputs(self, x: Tensor) -> Tensor:
        """``[N, T]``: the per-node MLP, before pooling (what each atom adds to the sum)."""
        return self.mlp(x)

    def pool(self, out: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        """``[B, T]``: the sum (or mean) of each graph's per-node outputs ``out`` ``[N, T]``."""
        pooled = out.new_zeros(num_graphs, out.shape[1]).index_add_(0, batch, out)
        if self.pooling == "mean":
            counts = torch.bincount(batch, minlength=num_graphs).clamp(min=1)
            pooled = pooled / counts[:, None].to(pooled.dtype)
        return pooled
