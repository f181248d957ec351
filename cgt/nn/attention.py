"""The Chromatic Self-Attention layer (docs/design.md §2) as an ``nn.Module``."""

from __future__ import annotations

import os

from torch import Tensor, nn

from cgt.nn.functional import attention_weights, chromatic_attention

__all__ = ["ChromaticSelfAttention", "BACKENDS", "resolve_backend"]

#: Accepted values of ``backend``.
BACKENDS = ("auto", "torch", "triton")

#: Environment variable that, when set, replaces ``backend="auto"``.
BACKEND_ENV = "CGT_CSA_BACKEND"


def resolve_backend(backend: str, on_cuda: bool) -> str:
    """Chooses the implementation that runs a chromatic attention call.

    Args:
        backend: ``"auto"``, ``"torch"`` or ``"triton"``. ``"auto"`` is first
            replaced by the environment variable ``CGT_CSA_BACKEND`` if it is set.
        on_cuda: whether the inputs live on a CUDA device.

    Returns:
        ``"torch"`` (the PyTorch reference) or ``"triton"`` (the fused kernel).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        backend = os.environ.get(BACKEND_ENV, "auto") or "auto"
        if backend not in BACKENDS:
            raise ValueError(
                f"environment variable {BACKEND_ENV} must be one of {BACKENDS}, got {backend!r}"
            )
    if backend == "auto":
        backend = "triton" if on_cuda else "torch"
    return backend


class ChromaticSelfAttention(nn.Module):
    r"""Chromatic Self-Attention (CSA) of the Chromatic Graph Transformer, from
    `"Self-Attention in Colors: Another Take on Encoding Graph Structure in
    Transformers" <https://arxiv.org/abs/2304.10933>`_ (Menegaux, Jehanno,
    Selosse, Mairal, TMLR 2023).

    Every node attends to every node of its own graph. Graph structure enters
    through per-pair, per-channel tensors: :math:`E^{att}` turns each attention
    score into a filter (one logit per channel) and :math:`E^{val}` adds to the
    values:

    .. math::
        s_{ij}^h &= \frac{\langle W_Q h_i, W_K h_j \rangle_h}{\sqrt{d}}, \qquad
        \alpha_{ij}^c = \operatorname{softmax}_{j \in G(i)}
            \left(s_{ij}^{h(c)} + E^{att}_{ijc}\right)

        \mathrm{CSA}(h)_i &= W_O \sum_{j \in G(i)} \alpha_{ij} \frac{z_{ij}}{1-p}
            \odot \left(W_V h_j + E^{val}_{ij}\right) + b_O

    with :math:`d = C / H` channels per head (channels are head-major, channel
    :math:`c` belongs to head :math:`h(c) = \lfloor c/d \rfloor`) and
    :math:`z_{ij} \sim \mathrm{Bernoulli}(1-p)` one attention-dropout draw per pair,
    shared by all channels, during training only.

    Inputs are packed (docs/design.md §4): the nodes of all graphs one after another, and
    every ordered pair ``(i, j)`` of each graph, row-major inside its graph, graphs
    one after another (``P = Σ_g n_g²``, see :func:`cgt.nn.functional.pair_index`).

    Args:
        channels: node feature size :math:`C`.
        heads: number of heads :math:`H`; must divide ``channels``.
        dropout: attention dropout probability :math:`p` (training only).
        backend: ``"auto"`` (the fused Triton kernel on CUDA tensors, the PyTorch
            reference elsewhere; the environment variable ``CGT_CSA_BACKEND``
            overrides it), ``"torch"`` (always the reference) or ``"triton"``
            (always the kernel).

    Shapes:
        - **x**: ``[N, C]`` node features of the packed batch.
        - **pair_att**: ``[P, C]`` logit filter :math:`E^{att}` of every packed pair.
        - **pair_val**: ``[P, C]`` value term :math:`E^{val}` of every packed pair.
        - **ptr**: ``[B+1]`` node offsets of the graphs (PyG's ``batch.ptr``).
        - **output**: ``[N, C]``.

    Example::

        >>> from cgt import ChromaticSelfAttention
        >>> csa = ChromaticSelfAttention(64, heads=8)
        >>> ptr = torch.tensor([0, 3, 5])                      # two graphs: 3 and 2 nodes
        >>> x = torch.randn(5, 64)
        >>> pair_att, pair_val = torch.randn(13, 64), torch.randn(13, 64)  # 3² + 2²
        >>> csa(x, pair_att, pair_val, ptr).shape
        torch.Size([5, 64])
    """

    def __init__(
        self, channels: int, heads: int, dropout: float = 0.0, backend: str = "auto"
    ) -> None:
        super().__init__()
        if channels % heads != 0:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.channels = channels
        self.heads = heads
        self.dropout = dropout
        self.backend = backend
        self.q_proj = nn.Linear(channels, channels, bias=False)
        self.k_proj = nn.Linear(channels, channels, bias=False)
        self.v_proj = nn.Linear(channels, channels, bias=False)
        self.out_proj = nn.Linear(channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialises the four projections (Xavier-uniform weights, zero bias)."""
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            nn.init.xavier_uniform_(proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor, pair_att: Tensor, pair_val: Tensor, ptr: Tensor) -> Tensor:
        """Attends every node to the nodes of its graph; shapes in the class docstring."""
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        dropout_p = self.dropout if self.training else 0.0
        if resolve_backend(self.backend, x.is_cuda) == "triton":
            from cgt.kernels import chromatic_attention as fused_attention

            y = fused_attention(q, k, v, pair_att, pair_val, ptr, self.heads, dropout_p=dropout_p)
        else:
            y = chromatic_attention(q, k, v, pair_att, pair_val, ptr, self.heads, dropout_p)
        return self.out_proj(y)

    def attention_weights(self, x: Tensor, pair_att: Tensor, ptr: Tensor) -> Tensor:
        """``[P, H]``: the attention weight of every packed pair, averaged over the channels
        of each head, without dropout (the softmax ``α`` of docs/design.md §2; for each
        query node ``i`` and head, the weights over the nodes ``j`` of its graph sum to 1).

        Computed with the PyTorch reference formulas whatever the backend; meant for
        looking at a model (:mod:`cgt.explanation`), not for training.
        """
        alpha = attention_weights(self.q_proj(x), self.k_proj(x), pair_att, ptr, self.heads)
        return alpha.view(alpha.shape[0], self.heads, -1).mean(-1)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.channels}, heads={self.heads}, "
            f"dropout={self.dropout}, backend={self.backend!r})"
        )
