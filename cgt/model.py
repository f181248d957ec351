"""The Chromatic Graph Transformer as a plain ``nn.Module`` (docs/design.md §3)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from cgt.data.pairs import pair_features
from cgt.nn.encoders import NodeEncoder, PairEncoder
from cgt.nn.heads import GraphHead
from cgt.nn.layer import CGTLayer

__all__ = ["CGT"]


class CGT(nn.Module):
    """Chromatic Graph Transformer: encoders, ``layers`` CGT layers, head and pooling.

    The defaults are the paper's ZINC model (about 350k parameters): width 64, 8 heads,
    10 layers, 20 random-walk steps, the 3-way ring feature, attention dropout 0.5,
    sum pooling, reading PyTorch Geometric's ZINC atom types. ``E_att`` and ``E_val`` are
    computed once per forward pass and shared by all layers. :attr:`config` holds the
    keyword arguments that rebuild the model (``CGT(**model.config)``).

    The model knows no featurizer by name: what it reads from the graphs is given by
    ``node_field``, ``node_feature_sizes`` and ``bond_feature_sizes``, which every
    featurizer declares (``cgt.data.get_featurizer(name).model_inputs.as_config()``).

    Args:
        channels: width ``C``.
        layers: number of :class:`~cgt.nn.layer.CGTLayer`.
        heads: attention heads per layer.
        steps: random-walk steps ``K`` of the pair and landing features.
        ring: ring pair feature: ``"none"``, ``"paper"`` (chordless cycles), ``"sssr"`` or
            ``"size"``
            (see :class:`~cgt.nn.encoders.PairEncoder`).
        attention_dropout: dropout of the attention weights.
        dropout: dropout of the residual branches.
        ffn_dropout: dropout inside the feed-forward networks.
        pooling: ``"sum"`` or ``"mean"`` over the nodes of each graph.
        num_targets: outputs per graph ``T`` (regression values or classification logits).
        node_field: the graph field of categorical atom codes, ``Long[N]`` or ``Long[N, F]``
            (``"atom_type"``: the 28 ZINC types).
        node_feature_sizes: categories of each column of ``node_field``.
        bond_feature_sizes: categories of each column of ``edge_attr`` ``Long[E, Fb]``,
            embedded at the pair of every bond; ``None``: bonds are read by type only.
        backend: attention backend, see :class:`~cgt.nn.attention.ChromaticSelfAttention`.

    Shapes:
        - **batch**: a PyG ``Batch`` of ``B`` molecules from :mod:`cgt.data`.
        - **output**: ``[B, T]``; :meth:`embed`: ``[B, C]``; :meth:`node_embeddings`:
          ``[N, C]``.
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
        node_field: str = "atom_type",
        node_feature_sizes: Sequence[int] = (28,),
        bond_feature_sizes: Sequence[int] | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if not node_feature_sizes:
            raise ValueError("node_feature_sizes must give the categories of at least one column")
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
            node_field=node_field,
            node_feature_sizes=list(node_feature_sizes),
            bond_feature_sizes=None if bond_feature_sizes is None else list(bond_feature_sizes),
            backend=backend,
        )
        self.node_field = node_field
        self.steps = steps
        self.node_encoder = NodeEncoder(channels, steps, node_feature_sizes)
        self.pair_encoder = PairEncoder(channels, steps, ring, bond_feature_sizes)
        self.layers = nn.ModuleList(
            CGTLayer(channels, heads, attention_dropout, dropout, ffn_dropout, backend)
            for _ in range(layers)
        )
        self.head = GraphHead(channels, num_targets, pooling)

    def forward(self, batch) -> Tensor:
        """Predicts ``[B, T]`` outputs for a PyG ``Batch`` of molecules."""
        return self.head.pool(self.node_outputs(batch), batch.batch, batch.num_graphs)

    def node_outputs(self, batch, attention: list[Tensor] | None = None) -> Tensor:
        """``[N, T]``: every atom's output before pooling; :meth:`forward` pools them.

        Args:
            batch: a PyG ``Batch`` of molecules.
            attention: if a list is given, the attention weights of every layer are
                appended to it, one ``[P, H]`` tensor per layer (the weights of every packed
                pair, averaged over the channels of each head; see
                :meth:`~cgt.nn.attention.ChromaticSelfAttention.attention_weights`).
        """
        return self.head.node_outputs(self._trunk(batch, len(self.layers), attention))

    def embed(self, batch, layer: int = -1) -> Tensor:
        """``[B, C]``: each molecule's representation, the node features after CGT layer
        ``layer`` (:meth:`node_embeddings`) pooled per graph with the model's pooling
        (``self.head.pooling``: sum or mean).

        With the default ``layer=-1`` the node features are the head's input: the head
        (:class:`~cgt.nn.heads.GraphHead`) applies its per-node MLP to them and then this
        same pooling, so the prediction is built from the same atoms' features whose pool
        this returns (the pool of the features, not of the MLP's outputs). For similarity
        search, clustering or a classical model on top.

        Args:
            batch: a PyG ``Batch`` of ``B`` molecules.
            layer: as for :meth:`node_embeddings`.
        """
        return self.head.pool(self.node_embeddings(batch, layer), batch.batch, batch.num_graphs)

    def node_embeddings(self, batch, layer: int = -1) -> Tensor:
        """``[N, C]``: every atom's features after CGT layer ``layer`` (0-based position in
        :attr:`layers`, negative counted from the end; ``-1``: the last, what the head reads).
        The layers after it are not run.

        Args:
            batch: a PyG ``Batch`` of molecules.
            layer: which layer's output (see :meth:`layer_index`; an :class:`IndexError`
                names the valid range).
        """
        return self._trunk(batch, self.layer_index(layer) + 1)

    def layer_index(self, layer: int) -> int:
        """The 0-based position in :attr:`layers` of ``layer`` (negative: counted from the
        end, as Python indexes lists).

        Raises:
            TypeError: ``layer`` is not a whole number.
            IndexError: ``layer`` is outside ``-L .. L-1`` for the model's ``L`` layers.
        """
        if isinstance(layer, bool):
            raise TypeError(f"layer must be a whole number, got {layer!r}")
        layer = operator.index(layer)
        count = len(self.layers)
        if not -count <= layer < count:
            valid = f"{-count}..{count - 1}" if count else "none"
            raise IndexError(
                f"layer {layer} out of range: this model has {count} CGT layers "
                f"(valid layers: {valid})"
            )
        return layer % count

    def _trunk(self, batch, depth: int, attention: list[Tensor] | None = None) -> Tensor:
        """``[N, C]``: the encoders and the first ``depth`` CGT layers, the one place they run.

        Args:
            batch: a PyG ``Batch`` of molecules.
            depth: how many of :attr:`layers` to run.
            attention: as for :meth:`node_outputs` (one tensor per layer run).
        """
        atoms = getattr(batch, self.node_field, None)
        if atoms is None:
            raise ValueError(
                f"this model reads the node field {self.node_field!r}, which the batch lacks: "
                "featurize the molecules with the featurizer the model was trained with"
            )
        features = pair_features(batch, self.steps)
        x = self.node_encoder(atoms, features.landing)
        edge_attr = batch.edge_attr if self.pair_encoder.bond is not None else None
        pair_att, pair_val = self.pair_encoder(features, edge_attr)
        for block in self.layers[:depth]:
            if attention is not None:
                attention.append(block.attention.attention_weights(x, pair_att, batch.ptr))
            x = block(x, pair_att, pair_val, batch.ptr)
        return x
