"""Node and pair encoders of the Chromatic Graph Transformer (docs/design.md §3)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["NodeEncoder", "PairEncoder", "RING_FEATURES", "NUM_PAIR_KINDS", "MAX_RING_SIZE"]

#: Accepted values of ``ring``: no ring feature; the paper's 3-way one (rings are chordless
#: cycles); the same 3-way feature from RDKit's SSSR rings (``"paper"`` before checkpoint
#: schema 3); or ``"sssr"`` plus the size of the smallest common SSSR ring and whether the
#: pair shares an aromatic one.
RING_FEATURES = ("none", "paper", "sssr", "size")

#: Pair kinds of :func:`cgt.data.pairs`: self, no bond, single, double, triple, aromatic.
NUM_PAIR_KINDS = 6

#: Ring sizes from this one up share one embedding (``ring="size"``).
MAX_RING_SIZE = 12


class CategoricalEmbedding(nn.Module):
    """Sum of one embedding per column of a table of categorical indices.

    Args:
        sizes: number of categories of each of the ``F`` columns.
        channels: embedding size.

    Shapes: **codes** ``[M, F]`` (or ``[M]`` when ``F = 1``) -> ``[M, channels]``.
    """

    def __init__(self, sizes: Sequence[int], channels: int) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(size, channels) for size in sizes)

    def forward(self, codes: Tensor) -> Tensor:
        """Embeds and sums the columns; shapes in the class docstring."""
        if codes.dim() == 1 and len(self.embeddings) == 1:
            codes = codes[:, None]
        if codes.dim() != 2 or codes.shape[1] != len(self.embeddings):
            raise ValueError(
                f"expected categorical features of shape [M, {len(self.embeddings)}], "
                f"got {tuple(codes.shape)}"
            )
        return sum(emb(codes[:, col]) for col, emb in enumerate(self.embeddings))


class NodeEncoder(nn.Module):
    """Atom embedding concatenated with the encoded random-walk landing probabilities.

    ``[embed(atoms) (C - C_rw channels) || Linear(BatchNorm(landing)) (C_rw channels)]``
    with ``C_rw = 7C/16`` (the paper's 36 + 28 = 64 for ``C = 64``). ``embed`` sums one
    embedding per categorical column of the atom codes (the ZINC atom type alone for the
    paper's model).

    Args:
        channels: output size ``C``.
        steps: random-walk steps ``K`` (size of the landing vector).
        node_feature_sizes: categories of each column of the atom codes.

    Shapes: **atoms** ``[N]`` or ``[N, F]``, **landing** ``[N, K]`` -> ``[N, C]``.
    """

    def __init__(self, channels: int, steps: int, node_feature_sizes: Sequence[int]) -> None:
        super().__init__()
        landing_channels = channels * 7 // 16
        self.atom = CategoricalEmbedding(node_feature_sizes, channels - landing_channels)
        self.landing = nn.Sequential(nn.BatchNorm1d(steps), nn.Linear(steps, landing_channels))

    def forward(self, atoms: Tensor, landing: Tensor) -> Tensor:
        """Encodes every node; shapes in the class docstring."""
        return torch.cat([self.atom(atoms), self.landing(landing)], dim=-1)


class PairEncoder(nn.Module):
    """Pair features to the two per-pair tensors ``E_att`` and ``E_val`` of every layer.

    ``e = [embed(kind) (C/2) || Linear(random_walk) (C/2)] + ring embedding(s)
    (+ bond-feature embedding at bonded pairs)``, then ``E_att = Linear(e)`` and
    ``E_val = Linear(e)``.

    Args:
        channels: output size ``C``.
        steps: random-walk steps ``K``.
        ring: ``"none"``; ``"paper"`` (3-way: no common ring, common ring and bonded,
            common ring and not bonded; rings are the chordless cycles of at most 18 atoms,
            ``PairFeatures.ring``); ``"sssr"`` (the same categories from RDKit's SSSR rings,
            ``PairFeatures.ring_sssr``); or ``"size"`` (``"sssr"`` plus the size of the
            smallest common SSSR ring, sizes ``>= 12`` sharing one embedding, plus whether
            the pair shares an aromatic ring).
        bond_feature_sizes: categories per column of ``edge_attr``; when given, the sum
            of their embeddings is added to the pair of every bond.

    Shapes: the fields of :class:`cgt.data.PairFeatures` (``P`` pairs; ``edge_pairs``
    ``[E]`` is the packed pair of each bond), optionally **edge_attr** ``[E, Fb]`` ->
    two ``[P, C]`` tensors.
    """

    def __init__(
        self,
        channels: int,
        steps: int,
        ring: str = "paper",
        bond_feature_sizes: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if ring not in RING_FEATURES:
            raise ValueError(f"ring must be one of {RING_FEATURES}, got {ring!r}")
        self.ring_feature = ring
        kind_channels = channels // 2
        self.kind = nn.Embedding(NUM_PAIR_KINDS, kind_channels)
        self.random_walk = nn.Linear(steps, channels - kind_channels)
        if ring != "none":
            self.ring = nn.Embedding(3, channels)
        if ring == "size":
            self.ring_size = nn.Embedding(MAX_RING_SIZE + 1, channels)
            self.ring_aromatic = nn.Embedding(2, channels)
        self.bond = (
            None
            if bond_feature_sizes is None
            else CategoricalEmbedding(bond_feature_sizes, channels)
        )
        self.att = nn.Linear(channels, channels)
        self.val = nn.Linear(channels, channels)

    def forward(self, features, edge_attr: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Returns ``(E_att, E_val)``; shapes in the class docstring."""
        e = torch.cat([self.kind(features.kind), self.random_walk(features.random_walk)], -1)
        if self.ring_feature == "paper":
            e = e + self.ring(features.ring)
        elif self.ring_feature in ("sssr", "size"):
            e = e + self.ring(features.ring_sssr)
        if self.ring_feature == "size":
            e = e + self.ring_size(features.ring_size.clamp(max=MAX_RING_SIZE))
            e = e + self.ring_aromatic(features.ring_aromatic.long())
        if self.bond is not None:
            if edge_attr is None:
                raise ValueError("this pair encoder embeds bond features: pass edge_attr")
            e = e.index_add(0, features.edge_pairs, self.bond(edge_attr))
        return self.att(e), self.val(e)
