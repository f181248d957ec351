"""ZINCDataModule: properties, reproducible shuffling, ordered evaluation, packed batches."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pandas as pd
import pytest
import torch

from cgt.data import ZINC, ZINCDataModule, pair_features

SHIPPED = importlib.resources.files("cgt.data") / "files" / "zinc" / "zinc12k.csv.gz"


def smiles_order(loader) -> list[str]:
    return [s for batch in loader for s in batch.smiles]


def test_properties() -> None:
    module = ZINCDataModule()
    assert (module.featurizer, module.target_names, module.task) == ("zinc", ["y"], "regression")
    assert module.target_stats() is None
    assert ZINCDataModule(featurizer="atom").featurizer == "atom"
    with pytest.raises(ValueError, match="batch_size"):
        ZINCDataModule(batch_size=0)


def test_evaluation_batches_follow_the_file(zinc_root: Path) -> None:
    module = ZINCDataModule(batch_size=128, root=zinc_root)
    module.setup("validate")
    assert set(module.datasets) == {"val"}
    batches = list(module.val_dataloader())
    assert [b.num_graphs for b in batches] == [128] * 7 + [1000 - 7 * 128]
    assert smiles_order(batches) == ZINC("val", root=zinc_root).smiles
    module.setup("test")
    assert smiles_order(module.test_dataloader()) == ZINC("test", root=zinc_root).smiles


@pytest.fixture(scope="module")
def small_zinc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 300 train and 50 val rows of ZINC 12k, as a ZINC-format file."""
    table = pd.read_csv(str(SHIPPED))
    path = tmp_path_factory.mktemp("small") / "small.csv"
    pd.concat([table[table.split == "train"][:300], table[table.split == "val"][:50]]).to_csv(
        path, index=False
    )
    return path


def test_training_order_is_seeded_and_changes_every_epoch(small_zinc: Path, tmp_path: Path) -> None:
    def first_epochs(seed: int) -> tuple[list[str], list[str]]:
        module = ZINCDataModule(
            batch_size=64, seed=seed, subset=False, path=small_zinc, root=tmp_path
        )
        module.setup("fit")
        loader = module.train_dataloader()
        return smiles_order(loader), smiles_order(loader)

    one, two = first_epochs(0)
    assert (one, two) == first_epochs(0)
    assert one != two and sorted(one) == sorted(two)
    assert one != first_epochs(1)[0]
    train = ZINC("train", subset=False, path=small_zinc, root=tmp_path)
    assert sorted(one) == sorted(train.smiles) and len(one) == 300


def test_a_batch_is_ready_for_the_model(zinc_root: Path) -> None:
    module = ZINCDataModule(batch_size=32, root=zinc_root)
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch.num_graphs == 32 and batch.ptr.shape == (33,)
    assert batch.y.shape == (32, 1) and batch.y.dtype == torch.float32
    assert batch.atom_type.shape == (batch.num_nodes,) and batch.atom_type.max() < 28
    assert int(batch.ring_index[1].max()) < batch.ring_size.numel()
    features = pair_features(batch, 20)
    sizes = batch.ptr.diff()
    assert features.kind.numel() == int((sizes**2).sum())
    assert features.random_walk.shape == (features.kind.numel(), 20)


def test_worker_processes_give_the_same_batches(zinc_root: Path) -> None:
    plain = ZINCDataModule(batch_size=250, root=zinc_root)
    workers = ZINCDataModule(batch_size=250, root=zinc_root, num_workers=2)
    for module in (plain, workers):
        module.setup("validate")
    first = next(iter(plain.val_dataloader()))
    second = next(iter(workers.val_dataloader()))
    assert torch.equal(first.edge_index, second.edge_index) and first.smiles == second.smiles
