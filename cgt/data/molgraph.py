"""The graph of one molecule, as a PyTorch Geometric ``Data`` that batches its rings."""

from __future__ import annotations

from typing import Any

import torch
from torch_geometric.data import Data

__all__ = ["MolGraph"]


class MolGraph(Data):
    """One molecule: atoms, bonds (both directions) and its rings (RDKit's symmetrized SSSR,
    and the chordless cycles of :mod:`cgt.data.rings`).

    Fields (``n`` atoms, ``E`` directed bonds, ``R`` rings, ``M`` = Σ ring sizes):

    - ``num_nodes`` (int), ``smiles`` (str)
    - ``edge_index`` Long[2, E], every bond in both directions
    - ``bond_type`` Long[E]: 1 single, 2 double, 3 triple, 4 aromatic
    - ``ring_index`` Long[2, M]: row 0 atom index, row 1 ring id
    - ``ring_size`` Long[R], ``ring_aromatic`` Bool[R]
    - ``cycle_index`` Long[2, Mc]: row 0 atom index, row 1 cycle id (chordless cycles of
      at most :data:`~cgt.data.rings.MAX_CYCLE_LENGTH` atoms); ``cycle_size`` Long[Rc]
    - featurizer fields: ``atom_type`` Long[n] ("zinc") or ``x`` Long[n, F] and
      ``edge_attr`` Long[E, Fb] ("atom"); dataset items add ``y`` Float[1, T].

    When batched, ``ring_index`` row 0 is offset by the atoms and row 1 by the rings of
    the graphs before it, so ring ids stay unique across a batch (``cycle_index`` alike).
    """

    def __inc__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if key == "ring_index":
            return torch.tensor([[self.num_nodes], [self.ring_size.numel()]])
        if key == "cycle_index":
            return torch.tensor([[self.num_nodes], [self.cycle_size.numel()]])
        return super().__inc__(key, value, *args, **kwargs)
