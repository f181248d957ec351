"""ZINCDataModule: properties, reproducible shuffling, ordered evaluation, packed batches."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from cgt.data import ZINC, CSVDataModule, ZINCDataModule, pair_features
from cgt.data.splits import scaffold
from cgt.errors import InvalidRowsError

SHIPPED = importlib.resources.files("cgt.data") / "files" / "zinc" / "zinc12k.csv.gz"
EXAMPLE = importlib.resources.files("cgt.data") / "files" / "examples" / "zinc_props.csv"


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
    module = ZINCDataModule(batch_size=128, root=zinc_root, max_pairs=None)
    module.setup("validate")
    assert set(module.datasets) == {"val"}
    batches = list(module.val_dataloader())
    assert [b.num_graphs for b in batches] == [128] * 7 + [1000 - 7 * 128]
    assert smiles_order(batches) == ZINC("val", root=zinc_root).smiles
    module.setup("test")
    assert smiles_order(module.test_dataloader()) == ZINC("test", root=zinc_root).smiles


def test_batches_are_cut_by_atom_pairs(zinc_root: Path) -> None:
    """128 ZINC molecules have more than 2¹⁶ pairs: the default cuts them, in file order."""
    module = ZINCDataModule(batch_size=128, root=zinc_root)
    batches = list(module.val_dataloader())
    assert len(module.val_dataloader()) == len(batches) > 8
    assert all(int((b.ptr.diff() ** 2).sum()) <= 2**16 for b in batches)
    assert max(b.num_graphs for b in batches) < 128
    assert smiles_order(batches) == ZINC("val", root=zinc_root).smiles
    with pytest.raises(ValueError, match="max_pairs"):
        ZINCDataModule(max_pairs=0)


def test_zinc_batches_of_32_are_never_cut_by_the_default(zinc_root: Path) -> None:
    """The shipped ZINC 12k train split: the default gives the molecule-count batches (those
    of ``DataLoader(batch_size=32, shuffle=True)`` with the same generator), so ZINC results
    do not change; and no order could be cut, the 32 largest molecules being under 2¹⁶."""
    module = ZINCDataModule(batch_size=32, seed=7, root=zinc_root)
    module.setup("fit")
    store = module.datasets["train"]
    assert int((np.sort(store.num_atoms)[-32:] ** 2).sum()) <= 2**16
    generator = torch.Generator().manual_seed(7)
    plain = DataLoader(list(range(len(store))), batch_size=32, shuffle=True,
                       generator=generator, collate_fn=store.batch)  # fmt: skip
    loader = module.train_dataloader()
    assert len(loader) == len(plain) == 313
    for _ in range(2):  # two epochs
        assert [b.smiles for b in loader] == [b.smiles for b in plain]


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


def test_without_a_seed_the_order_follows_torchs_global_seed(
    small_zinc: Path, tmp_path: Path
) -> None:
    def first_epoch(global_seed: int) -> list[str]:
        torch.manual_seed(global_seed)  # what seed_everything does
        module = ZINCDataModule(batch_size=64, subset=False, path=small_zinc, root=tmp_path)
        module.setup("fit")
        assert module.seed == global_seed
        return smiles_order(module.train_dataloader())

    assert first_epoch(5) == first_epoch(5)
    assert first_epoch(5) != first_epoch(6)


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


@pytest.fixture
def props(tmp_path: Path) -> Path:
    """The example CSV with a missing logp, a fold column and an invalid row."""
    table = pd.read_csv(str(EXAMPLE))
    table.loc[3, "logp"] = np.nan
    table["fold"] = np.where(np.arange(len(table)) % 10 == 0, "test", "train")
    table.loc[table.index % 10 == 1, "fold"] = "val"
    table.loc[5, "smiles"] = "C1CC"
    path = tmp_path / "props.csv"
    table.to_csv(path, index=False)
    return path


def test_csv_module_regression_stats_come_from_train(props: Path, tmp_path: Path) -> None:
    module = CSVDataModule(props, ["logp", "tpsa"], on_invalid="skip", root=tmp_path, data_seed=1)
    assert (module.featurizer, module.target_names, module.task) == (
        "atom",
        ["logp", "tpsa"],
        "regression",
    )
    module.setup("fit")
    train = module.datasets["train"]
    assert len(train) + len(module.datasets["val"]) + len(module.datasets["test"]) == 399
    values = train.dataset.y[train.indices].numpy().astype(np.float64)
    mean, std = module.target_stats()
    np.testing.assert_allclose(mean.numpy(), np.nanmean(values, 0), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), np.nanstd(values, 0), rtol=1e-5)
    # Batches carry the raw targets (NaN where missing); the model applies the stats.
    raw = torch.cat([b.y for b in module.val_dataloader()])
    val = module.datasets["val"]
    assert torch.equal(raw.nan_to_num(-1), val.dataset.y[val.indices].nan_to_num(-1))


def test_csv_module_column_and_scaffold_splits(props: Path, tmp_path: Path) -> None:
    module = CSVDataModule(
        props, "logp", split="column", split_column="fold", on_invalid="skip", root=tmp_path
    )
    module.setup()
    rows = {
        name: [int(d.dataset.rows[i]) for i in d.indices] for name, d in module.datasets.items()
    }
    assert rows["test"] == list(range(0, 400, 10))
    assert rows["val"] == list(range(1, 400, 10))
    assert 5 not in rows["train"] and len(rows["train"]) == 400 - 80 - 1

    module = CSVDataModule(props, "logp", split="scaffold", on_invalid="skip", root=tmp_path)
    module.setup()
    scaffolds = {
        name: {scaffold(d.dataset.smiles[i]) for i in d.indices}
        for name, d in module.datasets.items()
    }
    assert not scaffolds["train"] & scaffolds["test"]
    assert not scaffolds["train"] & scaffolds["val"]


def test_csv_module_classification(props: Path, tmp_path: Path) -> None:
    module = CSVDataModule(props, "polar", task="classification", on_invalid="skip", root=tmp_path)
    assert module.target_stats() is None
    batch = next(iter(module.train_dataloader()))
    labels = batch.y.flatten()
    assert set(labels[~labels.isnan()].tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="must be 0 or 1") as info:
        CSVDataModule(
            props, "tpsa", task="classification", on_invalid="skip", root=tmp_path
        ).setup()
    assert "row 0 (line 2): 'tpsa' = " in str(info.value)


def test_csv_module_options_are_checked(props: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="task must be one of"):
        CSVDataModule(props, "logp", task="ranking")
    with pytest.raises(ValueError, match="split must be one of"):
        CSVDataModule(props, "logp", split="time")
    with pytest.raises(ValueError, match="split_column is needed"):
        CSVDataModule(props, "logp", split="column")
    with pytest.raises(ValueError, match="split_sizes"):
        CSVDataModule(props, "logp", split_sizes=(0.5, 0.5, 0.5))
    with pytest.raises(InvalidRowsError, match="row 5 \\(line 7\\): 'C1CC'"):
        CSVDataModule(props, "logp", root=tmp_path).setup()
    tiny = tmp_path / "tiny.csv"
    pd.DataFrame({"smiles": ["C", "CC", "CCC"], "y": [1, 2, 3]}).to_csv(tiny, index=False)
    with pytest.raises(ValueError, match="the val split is empty"):
        CSVDataModule(tiny, "y", root=tmp_path).setup()


def test_resuming_continues_the_epoch_orders(small_zinc: Path, tmp_path: Path) -> None:
    """The generator state goes into checkpoints (LightningDataModule.state_dict)."""

    def module() -> ZINCDataModule:
        return ZINCDataModule(batch_size=64, seed=5, subset=False, path=small_zinc, root=tmp_path)

    uninterrupted = module()
    loader = uninterrupted.train_dataloader()
    epochs = [smiles_order(loader) for _ in range(3)]

    first = module()
    smiles_order(first.train_dataloader())
    state = first.state_dict()
    resumed = module()
    resumed.load_state_dict(state)
    loader = resumed.train_dataloader()
    assert [smiles_order(loader) for _ in range(2)] == epochs[1:]


def test_csv_module_draws_validation_from_a_published_train_split(
    props: Path, tmp_path: Path
) -> None:
    table = pd.read_csv(props)
    table["fold"] = table["fold"].replace("val", "train")  # a published train/test split
    published = tmp_path / "published.csv"
    table.to_csv(published, index=False)

    def rows(seed: int) -> dict[str, set[int]]:
        module = CSVDataModule(
            published, "logp", split="column", split_column="fold", val_from_train=0.1,
            data_seed=seed, on_invalid="skip", root=tmp_path,
        )  # fmt: skip
        module.setup()
        return {
            name: {int(d.dataset.rows[i]) for i in d.indices}
            for name, d in module.datasets.items()
        }

    first, again, other = rows(0), rows(0), rows(1)
    assert first == again and first["val"] != other["val"]
    assert first["test"] == other["test"] == set(range(0, 400, 10))
    assert not first["val"] & first["test"] and not first["val"] & first["train"]
    assert len(first["val"]) == round(0.1 * 359) and len(first["train"]) == 359 - 36
    with pytest.raises(ValueError, match="already names 40 validation rows"):
        CSVDataModule(
            props, "logp", split="column", split_column="fold", val_from_train=0.1,
            on_invalid="skip", root=tmp_path,
        ).setup()  # fmt: skip
    with pytest.raises(ValueError, match="val_from_train goes with split='column' only"):
        CSVDataModule(props, "logp", val_from_train=0.1)
