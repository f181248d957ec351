import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import LightningDataModule

from cgt.checkpoint import read_checkpoint
from cgt.cli.train import CGTCLI, resolve_config_path, train
from cgt.system import CGTModule


def run(tmp_path, *extra):
    return train(
        ["--config", "zinc-tiny.yaml", "--trainer.default_root_dir", str(tmp_path), *extra]
    )


def test_tiny_config_trains_end_to_end_and_resumes(tmp_path, capsys):
    metrics = run(tmp_path)
    assert "metrics written to" in capsys.readouterr().out
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written == metrics
    for key in ("num_parameters", "best_val_mae", "test_mae", "best_checkpoint", "epochs", "seed"):
        assert written[key] is not None, key
    assert written["epochs"] == 2 and written["seed"] == 0
    assert written["best_checkpoint"] == str(tmp_path / "checkpoints" / "best.ckpt")
    assert (tmp_path / "logs" / "version_0" / "config.yaml").is_file()
    assert (tmp_path / "logs" / "version_0" / "metrics.csv").is_file()

    info, state = read_checkpoint(written["best_checkpoint"])  # weights-only load, validated
    assert info.featurizer == "zinc" and info.target_names == ("y",) and info.task == "regression"
    assert info.model_config["channels"] == 16 and info.config["model"]["channels"] == 16
    assert any(key.startswith("model.") for key in state)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1

    with pytest.raises(FileExistsError, match="--ckpt_path last"):
        run(tmp_path)
    resumed = run(tmp_path, "--trainer.max_epochs", "3", "--ckpt_path", "last")
    assert resumed["epochs"] == 3
    assert resumed["resumed_from"] == str(tmp_path / "checkpoints" / "last.ckpt")
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 2
    # The first launch's logs survive the resumed one.
    assert (tmp_path / "logs" / "version_0" / "metrics.csv").is_file()
    assert (tmp_path / "logs" / "version_1" / "metrics.csv").is_file()


def test_overrides_take_effect(tmp_path):
    metrics = run(
        tmp_path,
        "--model.channels", "8",
        "--model.ring", "size",
        "--trainer.max_epochs", "1",
        "--seed_everything", "3",
        "--data.batch_size", "8",
    )  # fmt: skip
    assert metrics["epochs"] == 1 and metrics["seed"] == 3
    info, _ = read_checkpoint(metrics["best_checkpoint"])
    assert info.model_config["channels"] == 8 and info.model_config["ring"] == "size"
    assert info.config["data"]["init_args"]["batch_size"] == 8


def test_zinc_yaml_is_the_paper_recipe(tmp_path):
    args = [
        "--config",
        resolve_config_path("zinc.yaml"),
        "--trainer.default_root_dir",
        str(tmp_path),
    ]
    cli = CGTCLI(CGTModule, LightningDataModule, subclass_mode_data=True, run=False, args=args)
    count = cli.model.num_parameters
    print(f"zinc.yaml: {count:,} parameters")
    assert 300_000 <= count <= 500_000
    hp = cli.model.hparams
    assert (hp.channels, hp.layers, hp.heads, hp.steps, hp.ring) == (64, 10, 8, 20, "paper")
    assert (hp.attention_dropout, hp.pooling, hp.lr, hp.weight_decay) == (0.5, "sum", 1e-3, 1e-5)
    assert hp.warmup_epochs == 50 and cli.datamodule.batch_size == 32
    assert cli.trainer.max_epochs == 2000 and cli.trainer.gradient_clip_val == 1.0


def test_bare_config_names_find_the_bundled_configs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("zinc.yaml", "zinc", "zinc-quick.yaml", "zinc-tiny"):
        assert resolve_config_path(name).endswith(
            name if name.endswith(".yaml") else name + ".yaml"
        )
    (tmp_path / "zinc.yaml").write_text("seed_everything: 1\n")
    assert resolve_config_path("zinc.yaml") == "zinc.yaml"  # a file in the cwd wins
    with pytest.raises(FileNotFoundError, match="zinc-tiny.yaml"):
        resolve_config_path("nope.yaml")


def test_a_failing_report_does_not_fail_training(tmp_path, monkeypatch, capsys):
    import cgt.cli.train

    def broken(*args, **kwargs):
        raise RuntimeError("no pictures today")

    monkeypatch.setattr(cgt.cli.train, "write_report", broken)
    metrics = run(tmp_path, "--trainer.max_epochs", "1")
    assert metrics["epochs"] == 1 and (tmp_path / "metrics.json").is_file()
    assert "no pictures today" in capsys.readouterr().err
    assert not (tmp_path / "learning_curves.png").exists()


def test_zinc_full_yaml_is_the_paper_model_on_zinc_full(tmp_path):
    import yaml

    configs = Path(__file__).resolve().parents[2] / "configs"  # the source tree's
    full = yaml.safe_load((configs / "zinc-full.yaml").read_text())
    paper = yaml.safe_load((configs / "zinc.yaml").read_text())
    assert full["model"] == paper["model"]
    assert full["data"]["init_args"]["subset"] is False
    assert full["data"]["init_args"]["batch_size"] == paper["data"]["init_args"]["batch_size"]
    args = ["--config", str(configs / "zinc-full.yaml"),
            "--trainer.default_root_dir", str(tmp_path)]  # fmt: skip
    cli = CGTCLI(CGTModule, LightningDataModule, subclass_mode_data=True, run=False, args=args)
    assert cli.datamodule.subset is False and cli.datamodule.featurize_workers is None
    assert cli.datamodule.max_pairs == 2**16  # the default: ZINC batches of 32 never cut
    assert cli.model.num_parameters == 346_437
