"""Pair features of packed batches: bond kind, random walks, landing probabilities, rings.

Everything is computed on the batch's device with a fixed number of tensor operations
(no Python loop over graphs): random walks as batched powers of the padded per-graph
transition matrices, then gathered back into the packed pair layout of docs/design.md §4.
:func:`random_walk_probabilities` is the single-graph reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Data

from cgt.packing import PairIndex, pair_index, pair_position

__all__ = ["PairFeatures", "random_walk_probabilities", "pair_features"]


def random_walk_probabilities(
    edge_index: Tensor, num_nodes: int, steps: int, dtype: torch.dtype = torch.float32
) -> Tensor:
    """k-step random-walk probabilities of one graph (the reference).

    ``P = D⁻¹A`` is the row-normalised adjacency (an isolated atom has a zero row).

    Args:
        edge_index: ``[2, E]`` directed edges (both directions of every bond).
        num_nodes: ``n``.
        steps: number of powers ``K``.

    Returns:
        ``[n*n, K]``: row ``i*n + j``, column ``k-1`` holds ``(P^k)_ij``.
    """
    adjacency = torch.zeros(num_nodes, num_nodes, dtype=dtype, device=edge_index.device)
    adjacency[edge_index[0], edge_index[1]] = 1.0
    transition = adjacency / adjacency.sum(1, keepdim=True).clamp(min=1.0)
    powers = [transition]
    for _ in range(steps - 1):
        powers.append(powers[-1] @ transition)
    return torch.stack(powers, dim=-1).reshape(num_nodes * num_nodes, steps)


@dataclass(frozen=True)
class PairFeatures:
    """The features of every packed pair of a batch (``P = Σ_g n_g²``, ``N`` nodes).

    Attributes:
        index: :class:`~cgt.packing.PairIndex` of the batch's ``ptr``.
        edge_pairs: Long[E]: the packed pair of every directed bond of ``edge_index``
            (where a model adds bond features among the pairs).
        kind: Long[P]: 0 self, 1 no bond, 2 single, 3 double, 4 triple, 5 aromatic.
        random_walk: Float[P, K]: column ``k-1`` = ``(P^k)_ij``.
        landing: Float[N, K]: ``(P^k)_ii`` per node.
        ring: Long[P]: the paper's ring feature: 0 no common chordless cycle of at most
            :data:`~cgt.data.rings.MAX_CYCLE_LENGTH` atoms (always for ``i == j``), 1 common
            cycle and bonded, 2 common cycle and not bonded.
        ring_sssr: Long[P]: the same three categories from RDKit's SSSR rings.
        ring_size: Long[P]: size of the smallest common SSSR ring, 0 if none (and ``i == j``).
        ring_aromatic: Bool[P]: ``i != j`` share an aromatic SSSR ring.
    """

    index: PairIndex
    edge_pairs: Tensor
    kind: Tensor
    random_walk: Tensor
    landing: Tensor
    ring: Tensor
    ring_sssr: Tensor
    ring_size: Tensor
    ring_aromatic: Tensor


def pair_features(batch: Data, steps: int) -> PairFeatures:
    """Pair features of a packed batch (or of one :class:`~cgt.data.MolGraph`).

    Args:
        batch: a ``torch_geometric`` ``Batch`` of molecule graphs with ``ptr``, ``batch``,
            ``edge_index``, ``bond_type``, ``ring_index``, ``ring_size``, ``ring_aromatic``,
            ``cycle_index``, ``cycle_size``.
        steps: number of random-walk steps ``K`` (>= 1).

    Returns:
        :class:`PairFeatures` on the batch's device; random walks in float32.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    edge_index = batch.edge_index
    device = edge_index.device
    ptr = getattr(batch, "ptr", None)
    if ptr is None:
        ptr = torch.tensor([0, batch.num_nodes], device=device)
        node_graph = torch.zeros(batch.num_nodes, dtype=torch.long, device=device)
    else:
        node_graph = batch.batch
    index = pair_index(ptr)
    sizes = ptr[1:] - ptr[:-1]
    num_graphs, num_pairs = sizes.numel(), index.row.numel()
    local = torch.arange(node_graph.numel(), device=device) - ptr[node_graph]

    src, dst = edge_index
    kind = torch.ones(num_pairs, dtype=torch.long, device=device)
    edge_pairs = pair_position(ptr, index.pair_ptr, node_graph, src, dst)
    kind[edge_pairs] = batch.bond_type + 1
    self_pairs = index.row == index.col
    kind[self_pairs] = 0

    # Random walks: powers of the padded transition matrices [B, nmax, nmax], each power
    # gathered straight into the packed layout (flat index into the padded matrices).
    width = int(sizes.max()) if num_graphs else 0
    adjacency = torch.zeros(num_graphs, width, width, device=device)
    adjacency[node_graph[src], local[src], local[dst]] = 1.0
    transition = adjacency / adjacency.sum(-1, keepdim=True).clamp(min=1.0)
    pair_flat = (index.graph * width + local[index.row]) * width + local[index.col]
    node_flat = (node_graph * width + local) * width + local
    random_walk = torch.empty(steps, num_pairs, device=device)
    landing = torch.empty(steps, node_graph.numel(), device=device)
    power = transition
    for k in range(steps):
        if k > 0:
            power = torch.bmm(power, transition)
        torch.index_select(power.view(-1), 0, pair_flat, out=random_walk[k])
        torch.index_select(power.view(-1), 0, node_flat, out=landing[k])
    random_walk, landing = random_walk.t().contiguous(), landing.t().contiguous()

    # SSSR rings: every ordered pair of members of every ring, then reduce per packed pair.
    where, of_ring = _ring_pairs(batch.ring_index, batch.ring_size.numel(), ptr, index, node_graph)
    no_ring = torch.iinfo(torch.long).max
    ring_size = torch.full((num_pairs,), no_ring, dtype=torch.long, device=device)
    ring_size = ring_size.scatter_reduce(0, where, batch.ring_size[of_ring], "amin")
    shared = ring_size != no_ring
    ring_size = ring_size.masked_fill(~shared, 0)
    ring_aromatic = torch.zeros(num_pairs, dtype=torch.bool, device=device)
    ring_aromatic[where[batch.ring_aromatic[of_ring]]] = True
    bonded = torch.where(kind >= 2, 1, 2)
    ring_sssr = torch.where(shared, bonded, 0)
    # Chordless cycles (the paper's rings), the same way.
    where, _ = _ring_pairs(batch.cycle_index, batch.cycle_size.numel(), ptr, index, node_graph)
    in_cycle = torch.zeros(num_pairs, dtype=torch.bool, device=device)
    in_cycle[where] = True
    ring = torch.where(in_cycle, bonded, 0)

    return PairFeatures(
        index=index,
        edge_pairs=edge_pairs,
        kind=kind,
        random_walk=random_walk,
        landing=landing,
        ring=ring,
        ring_sssr=ring_sssr,
        ring_size=ring_size,
        ring_aromatic=ring_aromatic,
    )


def _ring_pairs(
    membership: Tensor, num_rings: int, ptr: Tensor, index: PairIndex, node_graph: Tensor
) -> tuple[Tensor, Tensor]:
    """The packed pair of every ordered pair of distinct atoms of every ring, and its ring.

    ``membership`` is ``[2, M]`` (atom, ring id) of the batch; a pair in several rings
    appears once per ring.
    """
    atoms, ring_id = membership
    order = torch.argsort(ring_id, stable=True)
    members, ring_id = atoms[order], ring_id[order]
    counts = torch.bincount(ring_id, minlength=num_rings)
    ring_ptr = torch.zeros(counts.numel() + 1, dtype=torch.long, device=atoms.device)
    torch.cumsum(counts, 0, out=ring_ptr[1:])
    within = pair_index(ring_ptr)
    a, b, of_ring = members[within.row], members[within.col], within.graph
    distinct = a != b
    a, b, of_ring = a[distinct], b[distinct], of_ring[distinct]
    return pair_position(ptr, index.pair_ptr, node_graph, a, b), of_ring
