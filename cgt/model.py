"""The Chromatic Graph Transformer as a plain ``nn.Module`` (DESIGN §3)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from cgt.nn.encoders import NodeEncoder, PairEncoder
from cgt.nn.heads import GraphHead
from cgt.nn.layer import CGTLayer

__all__ = ["CGT", "FEATURIZERS"]

#: Featurizers of :func:`cgt.data.featurize_smiles` the model can read.
FEATURIZERS = ("zinc", "atom")


class CGT(nn.Module):
    """Chromatic Graph Transformer: encoders, ``layers`` CGT layers, head and pooling.

    The defaults are the paper's ZINC model (about 350k parameters): width 64, 8 heads,
    10 layers, 20 random-walk steps, the 3-way ring feature, attention dropout 0.5,
    sum pooling. ``E_att`` and ``E_val`` are computed once per forward pass and shared
    by all layers. :attr:`config` holds the keyword arguments that rebuild the model
    (``CGT(**model.config)``), with the featurizer's vocabulary sizes resolved.

    Args:
        channels: width ``C``.
        layers: number of :class:`~cgt.nn.layer.CGTLayer`.
        heads: attention heads per layer.
        steps: random-walk steps ``K`` of the pair and landing features.
        ring: ring pair feature: ``"none"``, ``"paper"`` or ``"size"``
            (see :class:`~cgt.nn.encoders.PairEncoder`).
        attention_dropout: dropout of the attention weights.
        dropout: dropout of the residual branches.
        ffn_dropout: dropout inside the feed-forward networks.
        pooling: ``"sum"`` or ``"mean"`` over the nodes of each graph.
        num_targets: outputs per graph ``T`` (regression values or classification logits).
        featurizer: ``"zinc"`` (reads ``batch.atom_type``) or ``"atom"`` (reads the
            categorical ``batch.x`` and ``batch.edge_attr``).
        num_atom_types: size of the ``atom_type`` vocabulary (``"zinc"``).
        atom_feature_sizes: categories per column of ``x`` (``"atom"``; default
            ``cgt.data.ATOM_FEATURE_SIZES``).
        bond_feature_sizes: categories per column of ``edge_attr`` (``"atom"``; default
            ``cgt.data.BOND_FEATURE_SIZES``).
        backend: attention backend, see :class:`~cgt.nn.attention.ChromaticSelfAttention`.

    Shapes:
        - **batch**: a PyG ``Batch`` of ``B`` molecules from :mod:`cgt.data`.
        - **output**: ``[B, T]``.
    """

    def __init__(
        self,
        channels: int = 64,
        layers: int = 10,
        heads: int = 8,
        steps: int = 20,
        ring: str = "paper",
        attention_dropout: float = 0.5,
        dropout: float = 0.0,
        ffn_dropout: float = 0.0,
        pooling: str = "sum",
        num_targets: int = 1,
        featurizer: str = "zinc",
        num_atom_types: int = 28,
        atom_feature_sizes: list[int] | None = None,
        bond_feature_sizes: list[int] | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if featurizer not in FEATURIZERS:
            raise ValueError(f"featurizer must be one of {FEATURIZERS}, got {featurizer!r}")
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if featurizer == "atom":
            if atom_feature_sizes is None or bond_feature_sizes is None:
                from cgt.data import ATOM_FEATURE_SIZES, BOND_FEATURE_SIZES

                atom_feature_sizes = atom_feature_sizes or list(ATOM_FEATURE_SIZES)
                bond_feature_sizes = bond_feature_sizes or list(BOND_FEATURE_SIZES)
        else:
            atom_feature_sizes = bond_feature_sizes = None
        self.config: dict[str, Any] = dict(
            channels=channels,
            layers=layers,
            heads=heads,
            steps=steps,
            ring=ring,
            attention_dropout=attention_dropout,
            dropout=dropout,
            ffn_dropout=ffn_dropout,
            pooling=pooling,
            num_targets=num_targets,
            featurizer=featurizer,
            num_atom_types=num_atom_types,
            atom_feature_sizes=atom_feature_sizes and list(atom_feature_sizes),
            bond_feature_sizes=bond_feature_sizes and list(bond_feature_sizes),
            backend=backend,
        )
        self.featurizer = featurizer
        self.steps = steps
        self.node_encoder = NodeEncoder(channels, steps, num_atom_types, atom_feature_sizes)
        self.pair_encoder = PairEncoder(channels, steps, ring, bond_feature_sizes)
        self.layers = nn.ModuleList(
            CGTLayer(channels, heads, attention_dropout, dropout, ffn_dropout, backend)
            for _ in range(layers)
        )
        self.head = GraphHead(channels, num_targets, pooling)

    def forward(self, batch) -> Tensor:
        """Predicts ``[B, T]`` outputs for a PyG ``Batch`` of molecules."""
        from cgt.data import pair_features

        field = "atom_type" if self.featurizer == "zinc" else "x"
        if getattr(batch, field, None) is None:
            raise ValueError(
                f"this model reads molecules of featurizer {self.featurizer!r}, but the batch "
                f"has no '{field}' field: featurize with featurizer={self.featurizer!r}"
            )
        features = pair_features(batch, self.steps)
        x = self.node_encoder(getattr(batch, field), features.landing)
        if self.featurizer == "atom":
            src, dst = batch.edge_index
            graph = batch.batch[src]
            start = batch.ptr[graph]
            n = batch.ptr[graph + 1] - start
            edge_pairs = features.index.pair_ptr[graph] + (src - start) * n + (dst - start)
            pair_att, pair_val = self.pair_encoder(features, batch.edge_attr, edge_pairs)
        else:
            pair_att, pair_val = self.pair_encoder(features)
        for layer in self.layers:
            x = layer(x, pair_att, pair_val, batch.ptr)
        return self.head(x, batch.batch, batch.num_graphs)
