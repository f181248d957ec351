"""Lightning data modules yielding packed molecule batches (``torch_geometric`` ``Batch``)."""

from __future__ import annotations

import os

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset
from torch_geometric.loader import DataLoader

from cgt.data.zinc import ZINC

__all__ = ["ZINCDataModule"]


class _MoleculeDataModule(LightningDataModule):
    """Shared loaders: train shuffled by a generator seeded once, val/test in order."""

    def __init__(self, batch_size: int, num_workers: int, seed: int) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self._generator = torch.Generator().manual_seed(seed)
        self.datasets: dict[str, Dataset] = {}

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            self.setup()
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=self._generator if shuffle else None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches; the order is reproducible from ``seed``, new every epoch."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


class ZINCDataModule(_MoleculeDataModule):
    """ZINC batches for training: the 12k subset (shipped) or ZINC-full.

    Args:
        batch_size: graphs per batch.
        num_workers: DataLoader worker processes.
        seed: seeds the training order (train shuffled, val/test in file order).
        subset: the 12k subset, or ZINC-full (from ``path`` or ``$CGT_ZINC_FULL``).
        root: cache directory of processed splits (default ``$CGT_CACHE_DIR`` or
            ``~/.cache/cgt``).
        path: CSV file to read instead of the shipped subset / for ZINC-full.
        featurizer: ``"zinc"`` (the paper's 28 atom types) or ``"atom"``.
    """

    def __init__(
        self,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
        subset: bool = True,
        root: str | os.PathLike | None = None,
        path: str | os.PathLike | None = None,
        featurizer: str = "zinc",
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.subset = subset
        self.root = root
        self.path = path
        self._featurizer = featurizer

    @property
    def featurizer(self) -> str:
        """Name of the featurizer of the graphs."""
        return self._featurizer

    @property
    def target_names(self) -> list[str]:
        return ["y"]

    @property
    def task(self) -> str:
        return "regression"

    def target_stats(self) -> None:
        """No normalisation for ZINC (the paper trains on the raw target)."""
        return None

    def setup(self, stage: str | None = None) -> None:
        """Loads (featurizing and caching on first use) the splits the stage needs."""
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}
        for split in needed.get(stage, ("train", "val", "test")):
            if split not in self.datasets:
                self.datasets[split] = ZINC(
                    split, self.subset, self.root, self._featurizer, self.path
                )
