"""The rings of a molecule as graph fields (read by :func:`cgt.data.pairs` to build the
ring pair features), by two definitions:

- ``ring_*``: RDKit's symmetrized SSSR, with each ring's size and aromaticity;
- ``cycle_*``: every chordless (induced) cycle of the bond graph of at most
  :data:`MAX_CYCLE_LENGTH` atoms, the rings of the paper's code (docs/design.md §3).

The two differ on bridged and fused systems: norbornane's 6-membered envelope
``C1-C2-C3-C4-C5-C6`` is a chordless cycle but not an SSSR ring; a macrocycle longer than
the bound is an SSSR ring but not a cycle here.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

__all__ = ["MAX_CYCLE_LENGTH", "RINGS_VERSION", "ring_fields", "chordless_cycles"]

#: Longest chordless cycle (in atoms) that counts as a ring: ``rings_max_length: 18`` of the
#: paper's released ZINC configuration (inria-thoth/csa, configs/CSA/zinc-CSA+Rings.yaml),
#: whose ring transform enumerates induced cycles of 3 to 18 atoms.
MAX_CYCLE_LENGTH = 18

#: Version of what :func:`ring_fields` computes; part of every dataset cache key.
#: 2: ``cycle_index``/``cycle_size`` (chordless cycles) added.
RINGS_VERSION = 2


def chordless_cycles(mol: Chem.Mol, max_length: int = MAX_CYCLE_LENGTH) -> list[tuple[int, ...]]:
    """Every chordless cycle of ``mol``'s bond graph with 3 to ``max_length`` atoms.

    Atoms of a cycle come in cycle order from its smallest atom index (towards its smaller
    neighbour); cycles are sorted. A molecule whose SSSR rings share no atom has exactly
    its SSSR rings as chordless cycles; otherwise the cycles are enumerated on the ring
    bonds (every ring bond, and every chord, lies on an SSSR ring) by
    :func:`_enumerate_chordless` (tests compare it with networkx's ``chordless_cycles``
    and a brute force).
    """
    info = mol.GetRingInfo()
    rings = info.AtomRings()
    if not rings:
        return []
    if all(info.NumAtomRings(atom) == 1 for ring in rings for atom in ring):
        found = [ring for ring in rings if len(ring) <= max_length]
    else:
        neighbours: dict[int, set[int]] = {}
        for ring in rings:
            for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
                neighbours.setdefault(a, set()).add(b)
                neighbours.setdefault(b, set()).add(a)
        found = _enumerate_chordless(neighbours, max_length)
    return sorted({_canonical(cycle) for cycle in found})


def _enumerate_chordless(
    neighbours: dict[int, set[int]], max_length: int
) -> list[tuple[int, ...]]:
    """Chordless cycles of 3 to ``max_length`` vertices of a simple undirected graph.

    From each vertex ``s``, grows chordless paths over vertices greater than ``s`` (so that
    ``s`` is the cycle's smallest vertex): a vertex may extend the path only if it is
    adjacent to no path vertex but the last, except ``s``, which closes the cycle. Each
    cycle is found in both directions; the one whose second vertex is the smaller is kept.
    """
    cycles: list[tuple[int, ...]] = []
    for start in sorted(neighbours):
        around = neighbours[start]
        paths = [[start, first] for first in around if first > start]
        while paths:
            path = paths.pop()
            last = path[-1]
            inner = path[1:-1]
            for vertex in neighbours[last]:
                if vertex <= start or vertex in path:
                    continue
                if any(vertex in neighbours[p] for p in inner):
                    continue  # a chord
                if vertex in around:
                    if path[1] < vertex:  # closes the cycle; keep one direction
                        cycles.append((*path, vertex))
                    continue
                if len(path) + 1 < max_length:
                    paths.append([*path, vertex])
    return cycles


def _canonical(cycle) -> tuple[int, ...]:
    """A cycle rotated to start at its smallest atom, going towards its smaller neighbour."""
    cycle = list(cycle)
    start = cycle.index(min(cycle))
    cycle = cycle[start:] + cycle[:start]
    if cycle[-1] < cycle[1]:
        cycle = [cycle[0], *reversed(cycle[1:])]
    return tuple(cycle)


def _membership(rings) -> tuple[list[int], list[int]]:
    atoms: list[int] = []
    ids: list[int] = []
    for ring_id, ring in enumerate(rings):
        atoms.extend(ring)
        ids.extend([ring_id] * len(ring))
    return atoms, ids


def ring_fields(mol: Chem.Mol, max_cycle_length: int = MAX_CYCLE_LENGTH) -> dict[str, np.ndarray]:
    """The rings of ``mol`` by both definitions (read before any kekulization).

    SSSR rings are ``mol.GetRingInfo().AtomRings()``: RDKit's symmetrized SSSR, which keeps
    all symmetry-equivalent smallest rings (adamantane: 4 rings, not an arbitrary 3), so
    the rings do not depend on the atom order. Chordless cycles are those of
    :func:`chordless_cycles` up to ``max_cycle_length`` atoms.

    Returns:
        ``ring_index`` int64 ``[2, M]`` (atom, ring id; a ring's atoms in ring order),
        ``ring_size`` int64 ``[R]``, ``ring_aromatic`` bool ``[R]`` (every bond of the ring
        is aromatic); ``cycle_index`` int64 ``[2, Mc]`` (atom, cycle id), ``cycle_size``
        int64 ``[Rc]``.
    """
    cycles = chordless_cycles(mol, max_cycle_length)
    cycle_atoms, cycle_ids = _membership(cycles)
    fields = {
        "cycle_index": np.array((cycle_atoms, cycle_ids), dtype=np.int64).reshape(2, -1),
        "cycle_size": np.array([len(cycle) for cycle in cycles], dtype=np.int64),
    }
    rings = mol.GetRingInfo().AtomRings()
    if not rings:
        fields.update(
            ring_index=np.zeros((2, 0), dtype=np.int64),
            ring_size=np.zeros(0, dtype=np.int64),
            ring_aromatic=np.zeros(0, dtype=bool),
        )
        return fields
    # Plain lists: molecules have few rings, and numpy calls cost more than they save.
    atoms, ring_ids = _membership(rings)
    following: list[int] = []  # ring atoms come in ring order: atom k is bonded to k+1
    starts: list[int] = []
    for ring in rings:
        starts.append(len(following))
        following.extend(ring[1:])
        following.append(ring[0])
    orders = Chem.GetAdjacencyMatrix(mol, useBO=True, force=True)[atoms, following]
    fields.update(
        ring_index=np.array((atoms, ring_ids), dtype=np.int64),
        ring_size=np.array([len(ring) for ring in rings], dtype=np.int64),
        ring_aromatic=np.logical_and.reduceat(orders == 1.5, starts),
    )
    return fields
