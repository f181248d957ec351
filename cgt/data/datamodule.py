"""Lightning data modules yielding packed molecule batches (``torch_geometric`` ``Batch``).

Loaders iterate over positions and let the dataset gather each batch at once
(:meth:`~cgt.data.GraphStore.batch`), which gives the very ``Batch`` that PyG's
``DataLoader`` would build from the items, several times faster.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Subset

from cgt.data.batching import DEFAULT_MAX_PAIRS, MoleculeBatchSampler
from cgt.data.csv_dataset import CSVDataset
from cgt.data.distributed import ShardSampler
from cgt.data.graph_store import GraphStore
from cgt.data.splits import (
    SPLIT_METHODS,
    SPLIT_NAMES,
    column_split,
    random_split,
    scaffold_split,
    split_counts,
    subsample_train,
    validation_from_train,
)
from cgt.data.zinc import ZINC
from cgt.targets import TASKS

__all__ = ["ZINCDataModule", "CSVDataModule"]


class _MoleculeDataModule(LightningDataModule):
    """Shared loaders: train shuffled by a generator seeded once, val/test in order.

    ``datasets`` maps each split to its dataset (a :class:`GraphStore` or a ``Subset`` of one).
    ``batch_size`` is the global batch size: under DDP with N processes, each takes
    ``batch_size / N`` molecules of every batch (:class:`~cgt.data.distributed.ShardSampler`).
    A batch is also cut before it would pass ``max_pairs`` atom pairs (Σ n²;
    :func:`~cgt.data.batching.cut_batches`), so one large molecule does not inflate a batch
    of small ones; ``None`` cuts by molecule count only.
    """

    def __init__(
        self, batch_size: int, num_workers: int, seed: int | None, max_pairs: int | None
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_pairs is not None and max_pairs < 1:
            raise ValueError(f"max_pairs must be >= 1 (or None), got {max_pairs}")
        self.batch_size = batch_size
        self.max_pairs = max_pairs
        self.num_workers = num_workers
        # None follows torch's global seed, so `seed_everything` (or --seed_everything)
        # also fixes the training order.
        self.seed = torch.initial_seed() if seed is None else seed
        self._generator = torch.Generator().manual_seed(self.seed)
        self.datasets: dict[str, GraphStore | Subset] = {}

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        """Batches of positions (cut by molecule count and atom pairs), gathered by the store
        into one PyG ``Batch`` each."""
        if split not in self.datasets:
            self.setup({"train": "fit", "val": "validate", "test": "test"}[split])
        dataset = self.datasets[split]
        if isinstance(dataset, Subset):
            store, positions = dataset.dataset, torch.as_tensor(dataset.indices, dtype=torch.long)
        else:
            store, positions = dataset, torch.arange(len(dataset))
        sizes = store.num_atoms[positions.numpy()]
        generator = self._generator if shuffle else None
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1:
            sampler = ShardSampler(
                sizes,
                self.batch_size,
                self.max_pairs,
                trainer.world_size,
                trainer.global_rank,
                shuffle,
                generator,
            )
        else:
            sampler = MoleculeBatchSampler(
                sizes, self.batch_size, self.max_pairs, shuffle, generator
            )
        return DataLoader(
            positions,  # the sampler's batches index it: positions[batch] go to the store
            batch_size=None,
            sampler=sampler,
            generator=generator,  # the DataLoader draws its base seed from it first
            collate_fn=store.batch,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def state_dict(self) -> dict[str, Tensor]:
        """The shuffling generator's state, saved in Lightning checkpoints so that a resumed
        run continues with the same epoch orders as an uninterrupted one."""
        return {"generator": self._generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        self._generator.set_state(state_dict["generator"])

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
        seed: seeds the training order (train shuffled, val/test in file order);
            ``None`` takes torch's global seed (set by ``seed_everything``).
        subset: the 12k subset, or ZINC-full (from ``path`` or ``$CGT_ZINC_FULL``).
        root: cache directory of processed splits (default ``$CGT_CACHE_DIR`` or
            ``~/.cache/cgt``).
        path: CSV file to read instead of the shipped subset / for ZINC-full.
        featurizer: ``"zinc"`` (the paper's 28 atom types) or ``"atom"``.
        featurize_workers: processes featurizing a split when its cache is built
            (``None``: one per CPU for splits of 50,000 molecules or more; 0: none).
        max_pairs: most atom pairs (Σ n² over its molecules) per batch, as in prediction: a
            batch is cut before a molecule that would pass it, and a larger molecule is
            alone; ``None``: cut by molecule count only. The default never cuts ZINC
            batches of 32 (at most 32 × 38² pairs).
    """

    def __init__(
        self,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int | None = None,
        subset: bool = True,
        root: str | os.PathLike | None = None,
        path: str | os.PathLike | None = None,
        featurizer: str = "zinc",
        featurize_workers: int | None = None,
        max_pairs: int | None = DEFAULT_MAX_PAIRS,
    ) -> None:
        super().__init__(batch_size, num_workers, seed, max_pairs)
        self.subset = subset
        self.root = root
        self.path = path
        self._featurizer = featurizer
        self.featurize_workers = featurize_workers

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

    def prepare_data(self) -> None:
        """Featurizes and caches every split not cached yet. Lightning calls it in one
        process per node before :meth:`setup` in all (DDP), so the cache is built once."""
        for split in SPLIT_NAMES:
            self._load(split)

    def setup(self, stage: str | None = None) -> None:
        """Loads (featurizing and caching on first use) the splits the stage needs."""
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}
        for split in needed.get(stage, SPLIT_NAMES):
            if split not in self.datasets:
                self.datasets[split] = self._load(split)

    def _load(self, split: str) -> ZINC:
        return ZINC(
            split, self.subset, self.root, self._featurizer, self.path, self.featurize_workers
        )


class CSVDataModule(_MoleculeDataModule):
    """Batches of a user's CSV file, split into train/val/test.

    Targets are yielded raw; for regression, :meth:`target_stats` gives the per-target
    mean and std of the TRAIN split (missing values ignored), which the model applies.

    Args:
        path: the CSV file; a bare name that is not a file finds the example of that name
            shipped with cgt (``zinc_props.csv``, see ``cgt/data/files/examples/``).
        smiles_column: column holding the SMILES.
        target_columns: numeric target columns; empty cells are missing targets.
        task: ``"regression"``, or ``"classification"`` (binary, targets 0/1).
        featurizer: ``"atom"`` (general) or ``"zinc"``.
        split: ``"random"`` (seeded by ``data_seed``), ``"scaffold"`` (Bemis–Murcko
            scaffold groups, deterministic; no scaffold in two splits) or ``"column"``.
        split_column: for ``split="column"``, the column holding train/val/test per row.
        val_from_train: for ``split="column"`` when the column names only train and test
            (a published split): this fraction of the train rows, drawn with ``data_seed``,
            becomes the validation split.
        split_sizes: train/val/test fractions for random and scaffold splits.
        data_seed: seed of the random split (and of the ``val_from_train`` draw).
        batch_size: graphs per batch.
        num_workers: DataLoader worker processes.
        on_invalid: ``"raise"`` (one error listing every bad row) or ``"skip"``.
        root: cache directory of processed files.
        seed: seeds the training order; ``None`` takes torch's global seed (set by
            ``seed_everything``).
        featurize_workers: processes featurizing the file when its cache is built
            (``None``: one per CPU for files of 50,000 rows or more; 0: none).
        train_size: keep only this many molecules of the train split, drawn with
            ``data_seed`` once the splits are made (small-data studies, learning curves);
            validation and test are unchanged.
        max_pairs: most atom pairs (Σ n² over its molecules) per batch, as in prediction: a
            batch is cut before a molecule that would pass it, and a larger molecule is
            alone; ``None``: cut by molecule count only.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        target_columns: Sequence[str] | str,
        smiles_column: str = "smiles",
        task: str = "regression",
        featurizer: str = "atom",
        split: str = "random",
        split_column: str | None = None,
        val_from_train: float | None = None,
        split_sizes: Sequence[float] = (0.8, 0.1, 0.1),
        data_seed: int = 0,
        batch_size: int = 32,
        num_workers: int = 0,
        on_invalid: str = "raise",
        root: str | os.PathLike | None = None,
        seed: int | None = None,
        featurize_workers: int | None = None,
        train_size: int | None = None,
        max_pairs: int | None = DEFAULT_MAX_PAIRS,
    ) -> None:
        super().__init__(batch_size, num_workers, seed, max_pairs)
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if split not in SPLIT_METHODS:
            raise ValueError(f"split must be one of {SPLIT_METHODS}, got {split!r}")
        if (split == "column") != (split_column is not None):
            raise ValueError("split_column is needed with split='column', and only then")
        if val_from_train is not None and split != "column":
            raise ValueError("val_from_train goes with split='column' only")
        split_counts(1, split_sizes)  # validates the fractions
        self.path = _csv_path(path)
        self._target_names = [target_columns] if isinstance(target_columns, str) else list(
            target_columns
        )  # fmt: skip
        if not self._target_names:
            raise ValueError("target_columns must name at least one column")
        self.smiles_column = smiles_column
        self._task = task
        self._featurizer = featurizer
        self.split = split
        self.split_column = split_column
        self.val_from_train = val_from_train
        self.split_sizes = tuple(split_sizes)
        self.data_seed = data_seed
        self.on_invalid = on_invalid
        self.root = root
        self.featurize_workers = featurize_workers
        self.train_size = train_size

    @property
    def featurizer(self) -> str:
        return self._featurizer

    @property
    def target_names(self) -> list[str]:
        return list(self._target_names)

    @property
    def task(self) -> str:
        return self._task

    def setup(self, stage: str | None = None) -> None:
        """Reads, featurizes (cached) and splits the file, once for every stage."""
        if self.datasets:
            return
        dataset = CSVDataset(
            self.path,
            self.smiles_column,
            self._target_names,
            self._featurizer,
            self.on_invalid,
            self.root,
            self.featurize_workers,
        )
        if self._task == "classification":
            _check_binary(dataset, str(self.path))
        if self.split == "random":
            parts = random_split(len(dataset), self.split_sizes, self.data_seed)
        elif self.split == "scaffold":
            parts = scaffold_split(dataset.smiles, self.split_sizes)
        else:
            column = pd.read_csv(
                self.path, usecols=[self.split_column], dtype=str, keep_default_na=False
            )[self.split_column]
            rows = dataset.rows.tolist()
            parts = column_split(column.iloc[rows].tolist(), rows, str(self.path))
            if self.val_from_train is not None:
                parts = validation_from_train(
                    parts, self.val_from_train, self.data_seed, str(self.path)
                )
        if self.train_size is not None:
            parts = subsample_train(parts, self.train_size, self.data_seed, str(self.path))
        for name, part in zip(SPLIT_NAMES, parts, strict=True):
            if name != "test" and len(part) == 0:
                raise ValueError(
                    f"{self.path}: the {name} split is empty ({len(dataset)} valid molecules, "
                    f"split={self.split!r}); use more molecules or other split sizes"
                )
            self.datasets[name] = Subset(dataset, part.tolist())

    def target_stats(self) -> tuple[Tensor, Tensor] | None:
        """Per-target (mean, std) Float[T] of the train split for regression, else None.

        Missing targets are ignored; a target with no spread (or no value) in train gets
        std 1 (and mean 0 when it has no value at all).
        """
        if self._task != "regression":
            return None
        self.setup()
        train = self.datasets["train"]
        values = train.dataset.y[train.indices].double()
        present = ~values.isnan()
        count = present.sum(0)
        mean = values.nan_to_num().sum(0) / count.clamp(min=1)
        spread = ((values - mean).nan_to_num() ** 2).sum(0) / count.clamp(min=1)
        std = spread.sqrt()
        std = torch.where(std > 0, std, torch.ones_like(std))
        return mean.float(), std.float()


def _check_binary(dataset: CSVDataset, source: str) -> None:
    """Classification targets must be 0, 1 or missing; lists every other cell."""
    y = dataset.y
    bad = ~(y.isnan() | (y == 0) | (y == 1))
    if bad.any():
        rows = dataset.rows.tolist()
        listing = "\n".join(
            f"  row {rows[i]} (line {rows[i] + 2}): {dataset.target_names[k]!r} = "
            f"{y[i, k].item():g}"
            for i, k in bad.nonzero().tolist()
        )
        raise ValueError(
            f"{source}: binary classification targets must be 0 or 1 (or empty), but "
            f"{int(bad.sum())} are not:\n{listing}"
        )


def _csv_path(path: str | os.PathLike) -> Path:
    """``path``, or the shipped example of that name when ``path`` is a bare name and no file."""
    path = Path(path)
    if path.exists() or path.parent != Path("."):
        return path
    example = Path(__file__).parent / "files" / "examples" / path.name
    return example if example.is_file() else path
