"""A dataset of molecule graphs stored collated, and how one is built from SMILES rows.

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

from cgt.data.featurize import SmilesParser, graph_arrays
from cgt.data.molgraph import MolGraph
from cgt.errors import MoleculeError

__all__ = ["GraphStore", "featurize_rows"]

_ALONG_COLUMNS = ("edge_index", "ring_index")  # [2, X] fields, concatenated along dim 1


def featurize_rows(
    smiles: Sequence[Any], featurizer: str
) -> tuple[list[dict[str, np.ndarray]], list[int], list[tuple[int, str, str]]]:
    """Featurizes every row, collecting failures instead of stopping at the first one.

    Returns:
        ``(graphs, kept, invalid)``: the arrays of each valid row, the positions of those
        rows, and ``(position, smiles, reason)`` for every row that failed (a missing
        SMILES cell included).
    """
    graphs, kept, invalid = [], [], []
    with SmilesParser() as parser:
        for row, text in enumerate(smiles):
            if not isinstance(text, str):
                invalid.append((row, str(text), "missing SMILES"))
                continue
            try:
                graphs.append(graph_arrays(text, featurizer, parser))
            except MoleculeError as error:
                invalid.append((row, text, error.reason))
                continue
            kept.append(row)
    return graphs, kept, invalid


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
            graphs: per molecule, the arrays of :func:`~cgt.data.featurize.graph_arrays`.
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} molecules, {self.y.shape[1]} targets)"
