import math
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from cgt.data import featurize_smiles
from cgt.system import CGTModule, masked_loss, warmup_cosine

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CC2CCC1C2", "FC(F)(F)c1ccc(Cl)cc1", "CCN"]
TINY = dict(channels=8, layers=1, heads=2, steps=4, warmup_epochs=1)


def graphs(targets):
    items = []
    for smiles, y in zip(SMILES, targets, strict=False):
        graph = featurize_smiles(smiles)
        graph.y = torch.tensor([y], dtype=torch.float)
        items.append(graph)
    return items


def test_masked_loss_ignores_missing_targets():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[2.0, float("nan")], [float("nan"), 1.0]])
    assert masked_loss(pred, target, "regression").item() == pytest.approx((1.0 + 3.0) / 2)
    bce = masked_loss(
        pred, torch.tensor([[1.0, float("nan")], [float("nan"), 0.0]]), "classification"
    )
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(4.0))) / 2
    assert bce.item() == pytest.approx(expected, rel=1e-6)
    empty = masked_loss(pred.requires_grad_(), torch.full((2, 2), float("nan")), "regression")
    empty.backward()
    assert empty.item() == 0.0 and pred.grad is not None


def test_warmup_then_cosine():
    factor = warmup_cosine(warmup_epochs=4, max_epochs=14)
    assert [factor(e) for e in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(9) == pytest.approx(0.5)
    assert factor(14) == pytest.approx(0.0) and factor(20) == pytest.approx(0.0)


def test_target_normalisation_from_the_datamodule():
    module = CGTModule(**TINY, target_names=["a", "b"])
    datamodule = SimpleNamespace(target_stats=lambda: ([1.0, -2.0], [2.0, 0.5]))
    module.trainer = SimpleNamespace(datamodule=datamodule)  # what setup() reads
    module.setup("fit")
    assert module.target_mean.tolist() == [1.0, -2.0] and module.target_std.tolist() == [2.0, 0.5]
    batch = Batch.from_data_list(graphs([[0.0, 0.0]] * 3))
    module.eval()
    raw = module.model(batch)
    torch.testing.assert_close(
        module.predict_step(batch, 0), raw * module.target_std + module.target_mean
    )
    metadata = module.cgt_metadata()
    assert metadata["target_mean"] == [1.0, -2.0] and metadata["target_names"] == ["a", "b"]
    assert metadata["model_config"]["num_targets"] == 2


def test_degenerate_target_stats_are_refused():
    module = CGTModule(**TINY, target_names=["a", "b"])
    module.trainer = SimpleNamespace(
        datamodule=SimpleNamespace(target_stats=lambda: ([1.0, 2.0], [0.5, 0.0]))
    )
    with pytest.raises(ValueError, match=r"\['b'\]"):
        module.setup("fit")


def test_classification_trains_with_missing_labels_and_reports_auroc(tmp_path):
    torch.manual_seed(0)
    labels = [
        [1.0, 0.0],
        [0.0, float("nan")],
        [1.0, 1.0],
        [0.0, 0.0],
        [float("nan"), 1.0],
        [1.0, 0.0],
    ]
    loader = DataLoader(graphs(labels), batch_size=3)
    module = CGTModule(**TINY, target_names=["p", "q"], task="classification")
    trainer = pl.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, loader, loader)
    logged = trainer.callback_metrics
    assert 0.0 <= logged["val_auroc"].item() <= 1.0
    assert math.isfinite(logged["val_loss"].item())
    probs = torch.cat(trainer.predict(module, loader))
    assert probs.shape == (6, 2) and ((probs > 0) & (probs < 1)).all()
    assert module.cgt_metadata()["task"] == "classification"


def test_rejects_unknown_task():
    with pytest.raises(ValueError, match="task"):
        CGTModule(**TINY, task="ranking")
