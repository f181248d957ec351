"""One Chromatic Graph Transformer layer (docs/design.md §3): CSA and FFN, post-norm."""

from __future__ import annotations

from torch import Tensor, nn

from cgt.nn.attention import ChromaticSelfAttention

__all__ = ["CGTLayer"]


class CGTLayer(nn.Module):
    r"""A post-norm transformer layer built on :class:`ChromaticSelfAttention`.

    .. math::
        h' &= \mathrm{BatchNorm}\big(h + \mathrm{Dropout}(\mathrm{CSA}(h))\big)

        h_{out} &= \mathrm{BatchNorm}\big(h' + \mathrm{Dropout}(\mathrm{FFN}(h'))\big),
        \qquad \mathrm{FFN} = \mathrm{Linear}(C, 2C) \to \mathrm{ReLU} \to
        \mathrm{Dropout} \to \mathrm{Linear}(2C, C)

    There is no local message passing: graph structure comes only through the
    pair tensors handed to the attention.

    Args:
        channels: node feature size ``C``.
        heads: attention heads; must divide ``channels``.
        attention_dropout: dropout on the attention weights (one draw per pair).
        dropout: dropout on the two residual branches.
        ffn_dropout: dropout between the two linear maps of the FFN.
        backend: attention backend, see :class:`ChromaticSelfAttention`.

    Shapes:
        - **x**: ``[N, C]``; **pair_att**, **pair_val**: ``[P, C]``; **ptr**: ``[B+1]``.
        - **output**: ``[N, C]``.
    """

    def __init__(
        self,
        channels: int,
        heads: int,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
        ffn_dropout: float = 0.0,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self.attention = ChromaticSelfAttention(channels, heads, attention_dropout, backend)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.BatchNorm1d(channels)
        self.ffn = nn.Sequential(
            nn.Linear(channels, 2 * channels),
            nn.ReLU(),
            nn.Dropout(ffn_dropout),
            nn.Linear(2 * channels, channels),
        )
        self.norm2 = nn.BatchNorm1d(channels)

    def forward(self, x: Tensor, pair_att: Tensor, pair_val: Tensor, ptr: Tensor) -> Tensor:
        """Applies the layer; shapes in the class docstring."""
        x = self.norm1(x + self.dropout(self.attention(x, pair_att, pair_val, ptr)))
        return self.norm2(x + self.dropout(self.ffn(x)))
