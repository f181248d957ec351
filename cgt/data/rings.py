"""The rings of a molecule as graph fields: which atoms lie in which ring, its size, and
whether it is aromatic (read by :func:`cgt.data.pairs` to build the ring pair
features)."""

from __future__ import annotations

import numpy as np
from rdkit import Chem

__all__ = ["ring_fields"]


def ring_fields(mol: Chem.Mol) -> dict[str, np.ndarray]:
    """The rings RDKit perceives while sanitizing (read before any kekulization).

    These are ``mol.GetRingInfo().AtomRings()``: RDKit's symmetrized SSSR, which keeps
    all symmetry-equivalent smallest rings (adamantane: 4 rings, not an arbitrary 3), so
    the rings do not depend on the atom order.

    Returns:
        ``ring_index`` int64 ``[2, M]`` (atom, ring id), ``ring_size`` int64 ``[R]``,
        ``ring_aromatic`` bool ``[R]`` (every bond of the ring is aromatic).
    """
    rings = mol.GetRingInfo().AtomRings()
    if not rings:
        return {
            "ring_index": np.zeros((2, 0), dtype=np.int64),
            "ring_size": np.zeros(0, dtype=np.int64),
            "ring_aromatic": np.zeros(0, dtype=bool),
        }
    # Plain lists: molecules have few rings, and numpy calls cost more than they save.
    atoms: list[int] = []
    ring_ids: list[int] = []
    following: list[int] = []  # ring atoms come in ring order: atom k is bonded to k+1
    starts: list[int] = []
    for ring_id, ring in enumerate(rings):
        starts.append(len(atoms))
        atoms.extend(ring)
        following.extend(ring[1:])
        following.append(ring[0])
        ring_ids.extend([ring_id] * len(ring))
    orders = Chem.GetAdjacencyMatrix(mol, useBO=True, force=True)[atoms, following]
    return {
        "ring_index": np.array((atoms, ring_ids), dtype=np.int64),
        "ring_size": np.array([len(ring) for ring in rings], dtype=np.int64),
        "ring_aromatic": np.logical_and.reduceat(orders == 1.5, starts),
    }
