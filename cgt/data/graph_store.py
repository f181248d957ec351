"""A dataset of molecule graphs stored collated (what the on-disk cache holds).

Like PyTorch Geometric's ``InMemoryDataset``, all graphs live in one tensor per field plus
per-graph offsets, so a processed split loads in one read and items are cheap views.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torch_geometric.data import Batch

from cgt.data.molgraph import MolGraph

__all__ = ["GraphStore"]

# [2, X] fields, concatenated along dim 1
_ALONG_COLUMNS = ("edge_index", "ring_index", "cycle_index")
# What each row of an index field counts, i.e. what it is offset by when graphs are batched
# (as MolGraph.__inc__ says): edge_index by atoms, ring_index by atoms and by rings,
# cycle_index by atoms and by cycles.
_INCREMENTS = {
    "edge_index": ("atoms", "atoms"),
    "ring_index": ("atoms", "rings"),
    "cycle_index": ("atoms", "cycles"),
}


class GraphStore(Dataset):
    """Molecule graphs (:class:`~cgt.data.MolGraph`) with targets, stored collated.

    Item ``i`` is a :class:`~cgt.data.MolGraph` with its fields, ``smiles`` and ``y``
    Float[1, T] (NaN = missing target).

    Attributes:
        smiles: the SMILES of every item.
        y: Float[G, T] targets of every item.
        rows: Long[G] the source row of every item (rows left out are missing).
    """

    def __init__(self, payload: dict[str, Any]) -> None:
        self._fields: dict[str, Tensor] = payload["fields"]
        self._offsets = {key: value.numpy() for key, value in payload["offsets"].items()}
        self._num_nodes = payload["num_nodes"].numpy()
        self._offset_tensors: dict[str, Tensor] = payload["offsets"]
        self._num_nodes_tensor: Tensor = payload["num_nodes"]
        self.smiles: list[str] = payload["smiles"]
        self.y: Tensor = payload["y"]
        self.rows: Tensor = payload["rows"]

    @staticmethod
    def collate(
        graphs: Sequence[dict[str, np.ndarray]],
        smiles: Sequence[str],
        y: np.ndarray,
        rows: Sequence[int],
    ) -> dict[str, Any]:
        """The payload of a store (what :meth:`__init__` takes and the cache keeps).

        Args:
            graphs: per molecule, the arrays of :func:`~cgt.data.smiles_to_graph.graph_arrays`.
            smiles: per molecule, its SMILES.
            y: ``[G, T]`` targets.
            rows: per molecule, its source row.
        """
        if not graphs:
            raise ValueError("a dataset needs at least one valid molecule")
        fields, offsets = {}, {}
        for key in graphs[0]:
            if key == "num_nodes":
                continue
            axis = 1 if key in _ALONG_COLUMNS else 0
            parts = [graph[key] for graph in graphs]
            fields[key] = torch.from_numpy(np.concatenate(parts, axis=axis))
            sizes = np.fromiter((part.shape[axis] for part in parts), np.int64, len(parts))
            offsets[key] = torch.from_numpy(np.concatenate(([0], np.cumsum(sizes))))
        return {
            "fields": fields,
            "offsets": offsets,
            "num_nodes": torch.tensor([int(graph["num_nodes"]) for graph in graphs]),
            "smiles": list(smiles),
            "y": torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(len(graphs), -1),
            "rows": torch.as_tensor(list(rows), dtype=torch.long),
        }

    def payload(self) -> dict[str, Any]:
        """What :meth:`__init__` was built from."""
        return {
            "fields": self._fields,
            "offsets": {key: torch.from_numpy(value) for key, value in self._offsets.items()},
            "num_nodes": torch.from_numpy(self._num_nodes),
            "smiles": self.smiles,
            "y": self.y,
            "rows": self.rows,
        }

    @property
    def num_atoms(self) -> np.ndarray:
        """Int64[G] the atom count of every item (what batches are cut by)."""
        return self._num_nodes

    def __len__(self) -> int:
        return len(self.smiles)

    def __getitem__(self, index: int) -> MolGraph:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} molecules")
        index = index % len(self)
        values = {}
        for key, tensor in self._fields.items():
            start, stop = self._offsets[key][index : index + 2]
            axis = 1 if key in _ALONG_COLUMNS else 0
            values[key] = tensor.narrow(axis, int(start), int(stop - start))
        graph = MolGraph(**values, y=self.y[index : index + 1])
        graph.num_nodes = int(self._num_nodes[index])
        graph.smiles = self.smiles[index]
        return graph

    def batch(self, positions: Sequence[int]) -> Batch:
        """The items at ``positions`` as one PyG ``Batch``, gathered without per-item objects.

        Equal to ``Batch.from_data_list([self[i] for i in positions])`` (same fields,
        ``ptr``, ``batch``, ``to_data_list()``), several times faster (benchmarks/README.md):
        use it as the ``collate_fn`` of a DataLoader over positions.
        """
        index = torch.as_tensor(positions, dtype=torch.long)
        size = index.numel()
        counts = {"atoms": self._num_nodes_tensor[index]}
        offsets = self._offset_tensors
        counts["rings"] = offsets["ring_size"][index + 1] - offsets["ring_size"][index]
        counts["cycles"] = offsets["cycle_size"][index + 1] - offsets["cycle_size"][index]
        starts = {name: _exclusive_cumsum(count) for name, count in counts.items()}
        out = Batch(_base_cls=MolGraph)
        slice_dict: dict[str, Tensor] = {}
        inc_dict: dict[str, Tensor | None] = {}
        for key, tensor in self._fields.items():
            first, count = offsets[key][index], offsets[key][index + 1] - offsets[key][index]
            slices = torch.cat((_exclusive_cumsum(count), count.sum().view(1)))
            total = int(slices[-1])
            gather = _repeat(first - slices[:-1], count) + torch.arange(total)
            value = tensor.index_select(1 if key in _ALONG_COLUMNS else 0, gather)
            increments = torch.zeros(size, dtype=torch.long)
            if key in _INCREMENTS:
                rows = torch.stack([starts[name] for name in _INCREMENTS[key]])  # [2, B]
                value = value + torch.stack([_repeat(row, count) for row in rows])
                same = all(name == _INCREMENTS[key][0] for name in _INCREMENTS[key])
                increments = rows[0] if same else rows.t().unsqueeze(-1)
            out[key] = value
            slice_dict[key], inc_dict[key] = slices, increments
        out.y = self.y[index]
        out.smiles = [self.smiles[i] for i in index.tolist()]
        every = torch.arange(size + 1)
        slice_dict["y"], inc_dict["y"] = every, torch.zeros(size, dtype=torch.long)
        slice_dict["smiles"], inc_dict["smiles"] = every, None
        out.ptr = torch.cat((starts["atoms"], counts["atoms"].sum().view(1)))
        out.batch = _repeat(torch.arange(size), counts["atoms"])
        out._store._num_nodes = counts["atoms"].tolist()  # what Batch.from_data_list keeps
        out.num_nodes = int(out.ptr[-1])
        out._num_graphs = size
        out._slice_dict, out._inc_dict = slice_dict, inc_dict
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} molecules, {self.y.shape[1]} targets)"


def _exclusive_cumsum(values: Tensor) -> Tensor:
    """``[0, v0, v0+v1, ...]`` without the total: the start of each segment."""
    return torch.cumsum(values, 0) - values


def _repeat(values: Tensor, counts: Tensor) -> Tensor:
    """``repeat_interleave`` of CPU tensors through numpy: torch's CPU kernel can take
    milliseconds instead of microseconds when its threads compete for busy cores."""
    return torch.from_numpy(np.repeat(values.numpy(), counts.numpy()))
