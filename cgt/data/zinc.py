"""The ZINC benchmark: the 12k subset shipped with cgt, or ZINC-full from a local file."""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import pandas as pd

from cgt.data.cache import cache_dir, cache_key, file_digest, load_or_build
from cgt.data.featurizers import get_featurizer
from cgt.data.graph_store import GraphStore
from cgt.data.rings import RINGS_VERSION
from cgt.data.smiles_to_graph import featurize_rows
from cgt.data.splits import SPLIT_NAMES
from cgt.errors import InvalidRowsError

__all__ = ["ZINC", "zinc_source", "ZINC_FULL_ENV"]

ZINC_FULL_ENV = "CGT_ZINC_FULL"
"""Environment variable naming the ZINC-full file when ``path`` is not given."""


def zinc_source(subset: bool = True, path: str | os.PathLike | None = None) -> Path:
    """The CSV file behind :class:`ZINC`.

    ``subset=True``: the shipped ``zinc12k.csv.gz`` (``path`` overrides it).
    ``subset=False``: ``path``, else ``$CGT_ZINC_FULL``; a clear error when missing.
    """
    if subset and path is None:
        shipped = importlib.resources.files("cgt.data") / "files" / "zinc" / "zinc12k.csv.gz"
        return Path(str(shipped))
    if path is None:
        path = os.environ.get(ZINC_FULL_ENV)
    if path is None or not Path(path).is_file():
        where = f"{path!s} does not exist" if path is not None else "no file was given"
        raise FileNotFoundError(
            f"ZINC-full is not shipped with cgt and {where}. Put zinc_full.csv.gz (columns "
            "split,pyg_idx,smiles,y; 249,456 rows) on this machine and pass its path "
            f"(ZINC(subset=False, path=...), --data.path ...) or set {ZINC_FULL_ENV}="
            "/path/to/zinc_full.csv.gz."
        )
    return Path(path)


class ZINC(GraphStore):
    """One split of ZINC, featurized, in the order and with the targets of the file.

    Items are :class:`~cgt.data.MolGraph` with ``y`` Float[1, 1] (constrained solubility)
    and ``smiles``. The processed split is cached on disk under ``root`` (default
    ``$CGT_CACHE_DIR`` or ``~/.cache/cgt``), keyed by the file's content and the
    featurizer's name and version and the rings version; a stale or corrupted cache file is rebuilt.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        subset: the 12k subset (10,000 / 1,000 / 1,000, shipped) or ZINC-full
            (220,011 / 24,445 / 5,000, from ``path`` or ``$CGT_ZINC_FULL``).
        root: cache directory.
        featurizer: ``"zinc"`` (PyTorch Geometric's graphs) or another registered name.
        path: the CSV file (columns ``split``, ``smiles``, ``y``) to read instead.
        workers: processes featurizing the split when its cache is built (``None``: one per
            CPU for 50,000 molecules or more, see :mod:`cgt.data.parallel`; 0: this process).
    """

    target_names = ("y",)

    def __init__(
        self,
        split: str = "train",
        subset: bool = True,
        root: str | os.PathLike | None = None,
        featurizer: str = "zinc",
        path: str | os.PathLike | None = None,
        workers: int | None = None,
    ) -> None:
        if split not in SPLIT_NAMES:
            raise ValueError(f"split must be one of {SPLIT_NAMES}, got {split!r}")
        chosen = get_featurizer(featurizer)
        source = zinc_source(subset, path)
        key = cache_key(
            dataset="zinc",
            source=file_digest(source),
            split=split,
            featurizer=chosen.name,
            featurizer_version=chosen.version,
            rings_version=RINGS_VERSION,
        )
        name = "zinc12k" if subset and path is None else "zinc"
        file = cache_dir(root) / f"{name}-{split}-{chosen.name}-{key[:16]}.pt"
        super().__init__(
            load_or_build(file, key, lambda: _process(source, split, featurizer, workers))
        )
        self.split = split
        self.featurizer = chosen.name


def _process(source: Path, split: str, featurizer: str, workers: int | None) -> dict:
    table = pd.read_csv(source, usecols=["split", "smiles", "y"])
    table = table[table["split"] == split]
    if table.empty:
        raise ValueError(f"{source} has no rows of split {split!r}")
    graphs, kept, invalid = featurize_rows(table["smiles"].tolist(), featurizer, workers)
    rows = table.index.to_numpy()
    if invalid:
        listed = [(int(rows[i]), smiles, reason) for i, smiles, reason in invalid]
        raise InvalidRowsError(f"{source} (split {split!r})", listed, len(table))
    return GraphStore.collate(
        graphs, table["smiles"].tolist(), table[["y"]].to_numpy(), rows[kept].tolist()
    )
