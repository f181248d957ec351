"""Fine-tuning (cgt.finetune through CGTModule): init_from loads the intended tensors, refuses
checkpoints that do not fit, runs no code, and freeze_layers keeps layers fixed in training."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from torch_geometric.loader import DataLoader

from cgt.checkpoint import CheckpointError
from cgt.data import featurize_smiles
from cgt.system import CGTModule

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CC2CCC1C2", "FC(F)(F)c1ccc(Cl)cc1", "CCN"]
ARCH = dict(channels=8, layers=2, heads=2, steps=4, warmup_epochs=1)


def save_source(path: Path, featurizer="zinc", targets=("y",), task="regression", **arch):
    """A trained-looking checkpoint: random weights and BatchNorm statistics unlike a fresh
    model's."""
    torch.manual_seed(123)
    module = CGTModule(
        **{**ARCH, **arch}, featurizer=featurizer, target_names=list(targets), task=task
    )
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, torch.nn.BatchNorm1d):
                sub.running_mean.normal_()
                sub.running_var.uniform_(0.5, 2.0)
                sub.num_batches_tracked.fill_(7)
    torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata()}, path)
    return path, module


@pytest.fixture
def source(tmp_path):
    return save_source(tmp_path / "source.ckpt")


@pytest.fixture
def logged():
    """The messages logged through Lightning's rank-zero logger during the test."""
    records: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def model_state(module):
    return {key: value.clone() for key, value in module.model.state_dict().items()}


def test_init_from_loads_every_tensor_including_batchnorm_statistics(source, logged):
    path, trained = source
    fresh = CGTModule(**ARCH)
    assert not torch.equal(fresh.model.layers[0].norm1.running_mean,
                           trained.model.layers[0].norm1.running_mean)  # fmt: skip
    # Pooling and dropouts hold no weights: they may differ.
    module = CGTModule(**ARCH, init_from=str(path), pooling="mean", attention_dropout=0.1)
    expected = trained.model.state_dict()
    loaded = module.model.state_dict()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    assert any("loaded encoders, CGT layers and head" in m and "sha256" in m for m in logged)


@pytest.mark.parametrize(
    "targets, task", [(("logp", "tpsa"), "regression"), (("y",), "classification")]
)
def test_a_head_for_other_targets_is_reinitialised(tmp_path, logged, targets, task):
    path, trained = save_source(tmp_path / "source.ckpt")
    module = CGTModule(**ARCH, init_from=str(path), target_names=list(targets), task=task)
    expected = trained.model.state_dict()
    for key, value in module.model.state_dict().items():
        if key.startswith("head."):
            assert value.shape != expected[key].shape or not torch.equal(value, expected[key])
        else:
            assert torch.equal(value, expected[key]), key
    message = next(m for m in logged if "head re-initialised" in m)
    assert f"['y'] (regression) vs {list(targets)} ({task})" in message


def test_another_featurizer_is_refused_naming_both(tmp_path):
    path, _ = save_source(tmp_path / "atom.ckpt", featurizer="atom")
    with pytest.raises(ValueError, match=r"atom\.ckpt.*featurizer 'atom'.*featurizer 'zinc'"):
        CGTModule(**ARCH, init_from=str(path), featurizer="zinc")


def test_another_architecture_is_refused_with_the_options_to_use(source):
    path, _ = source
    with pytest.raises(ValueError, match="another architecture") as caught:
        CGTModule(**{**ARCH, "layers": 3, "channels": 16}, init_from=str(path))
    message = str(caught.value)
    assert "channels: checkpoint 8, this model 16 (use --model.channels 8)" in message
    assert "layers: checkpoint 2, this model 3 (use --model.layers 2)" in message
    assert "heads" not in message
    with pytest.raises(ValueError, match=r"ring: checkpoint paper, .*--model\.ring paper"):
        CGTModule(**ARCH, ring="size", init_from=str(path))


def test_a_changed_vocabulary_is_refused(source, tmp_path):
    raw = torch.load(source[0], weights_only=True)
    raw["cgt"]["vocabulary"] = ["C", "N"]
    torch.save(raw, tmp_path / "old.ckpt")
    with pytest.raises(CheckpointError, match=r"old\.ckpt.*different vocabulary"):
        CGTModule(**ARCH, init_from=str(tmp_path / "old.ckpt"))


def test_a_missing_source_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.ckpt does not exist"):
        CGTModule(**ARCH, init_from=str(tmp_path / "nowhere.ckpt"))


class _Payload:
    """Unpickling this would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_crafted_pickle_executes_nothing(source, tmp_path):
    raw = torch.load(source[0], weights_only=True)
    raw["cgt"]["config"] = {"evil": _Payload(tmp_path / "PWNED")}
    torch.save(raw, tmp_path / "payload.ckpt")
    with pytest.raises(CheckpointError, match=r"payload\.ckpt could not be read"):
        CGTModule(**ARCH, init_from=str(tmp_path / "payload.ckpt"))
    assert not (tmp_path / "PWNED").exists()


def test_freeze_layers_is_checked():
    with pytest.raises(ValueError, match="freeze_layers=1 needs init_from"):
        CGTModule(**ARCH, freeze_layers=1)


def test_freeze_layers_must_be_within_the_model(source):
    with pytest.raises(ValueError, match="between 0 and the model's 2 layers, got 3"):
        CGTModule(**ARCH, init_from=str(source[0]), freeze_layers=3)


def loader():
    items = []
    for i, smiles in enumerate(SMILES):
        graph = featurize_smiles(smiles)
        graph.y = torch.tensor([[float(i)]])
        items.append(graph)
    return DataLoader(items, batch_size=3, shuffle=False)


def fit(module, root, ckpt_path=None, max_epochs=1):
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=root,
    )
    trainer.fit(module, loader(), ckpt_path=ckpt_path)
    return trainer


def test_frozen_layers_and_their_statistics_do_not_change_in_training(source, tmp_path):
    path, _ = source
    module = CGTModule(**{**ARCH, "attention_dropout": 0.5}, init_from=str(path), freeze_layers=1)
    frozen = ("node_encoder.", "pair_encoder.", "layers.0.")
    trainable = [p for name, p in module.model.named_parameters() if not name.startswith(frozen)]
    assert module.num_parameters == sum(p.numel() for p in trainable)
    assert module.num_parameters < CGTModule(**ARCH).num_parameters
    before = model_state(module)
    trainer = fit(module, tmp_path)
    after = module.model.state_dict()
    for key, value in before.items():
        if key.startswith(frozen):
            assert torch.equal(after[key], value), key
    for key in ("layers.1.attention.", "layers.1.norm1.running_mean", "head.mlp.0.weight"):
        changed = [k for k in before if k.startswith(key)]
        assert changed and all(not torch.equal(after[k], before[k]) for k in changed), key
    assert not module.model.node_encoder.landing[0].weight.requires_grad
    optimised = {id(p) for g in trainer.optimizers[0].param_groups for p in g["params"]}
    assert optimised == {id(p) for p in module.parameters() if p.requires_grad}
    module.train()
    assert not module.model.layers[0].training and not module.model.pair_encoder.training
    assert module.model.layers[1].training and module.model.head.training


def test_a_resumed_run_continues_from_its_own_checkpoint(source, tmp_path):
    path, trained = source
    first = CGTModule(**ARCH, init_from=str(path))
    trainer = fit(first, tmp_path)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    saved = model_state(first)
    resumed = CGTModule(**ARCH, init_from=str(path))  # constructed from init_from, ...
    fit(resumed, tmp_path, ckpt_path=tmp_path / "last.ckpt")  # ... then restored
    state = resumed.model.state_dict()
    key = "layers.0.attention.q_proj.weight"
    assert key in state and not torch.equal(state[key], trained.model.state_dict()[key])
    for name, value in saved.items():
        assert torch.equal(state[name], value), name
