"""Train a CGT from a YAML config: ``python -m cgt.train --config configs/zinc.yaml``
(``cgt-train``).

A :class:`~lightning.pytorch.cli.LightningCLI` over :class:`cgt.system.CGTModule` and any
``LightningDataModule`` (``data: {class_path: cgt.data.ZINCDataModule, ...}``), with the
usual overrides (``--trainer.max_epochs 10``, ``--model.layers 4``, ``--data.batch_size 64``,
``--seed_everything 1``, ...). ``--config NAME`` that is not a file finds the config of that
name shipped with cgt (``zinc.yaml``, ``zinc-quick.yaml``, ``zinc-tiny.yaml``).

The run directory is ``--trainer.default_root_dir``; it receives
``checkpoints/best.ckpt`` (best validation metric) and ``checkpoints/last.ckpt`` (every
epoch), ``logs/version_N/`` per launch (``config.yaml``: the resolved config,
``metrics.csv``, TensorBoard events if installed) and, once the test split has been scored
with the best checkpoint, ``metrics.json`` and the run's pictures (:mod:`cgt.cli.report`:
``learning_curves.png``, ``parity_val.png`` / ``parity_test.png`` or ``roc_*.png``, and the
split predictions behind them). ``--ckpt_path last`` resumes the run of that
directory where it stopped (a new launch over an existing run without it is refused).

``--ensemble N`` (with ``--mc_dropout K``) trains an ensemble of N members instead, in
``RUN_DIR/member_k/``, and calibrates its uncertainty; ``--mc_dropout K`` alone calibrates the
Monte Carlo dropout of the one model after training: see :mod:`cgt.cli.ensemble`.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.plugins import LayerSync

from cgt.cli.checkpoint_io import AtomicCheckpointIO
from cgt.cli.layer_sync import batchnorm_sync_for
from cgt.cli.report import write_report
from cgt.system import CGTModule

__all__ = ["CGTCLI", "main", "resolve_config_path", "train"]


def resolve_config_path(name: str) -> str:
    """``name`` if it is a file, else the config of that name shipped in ``cgt.configs``.

    ``"zinc"`` and ``"zinc.yaml"`` both find the bundled ``zinc.yaml``.
    """
    if os.path.exists(name):
        return name
    bundled = files("cgt.configs")
    for candidate in (name, f"{name}.yaml"):
        resource = bundled / candidate
        if "/" not in candidate and resource.is_file():
            return str(resource)
    shipped = sorted(p.name for p in bundled.iterdir() if p.name.endswith(".yaml"))
    raise FileNotFoundError(
        f"config {name!r} is neither a file nor a config shipped with cgt ({', '.join(shipped)})"
    )


def _resolve_config_args(args: list[str]) -> list[str]:
    """Replaces the value of every ``--config`` by :func:`resolve_config_path` of it."""
    out = list(args)
    for i, arg in enumerate(out):
        if arg == "--config" and i + 1 < len(out):
            out[i + 1] = resolve_config_path(out[i + 1])
        elif arg.startswith("--config="):
            out[i] = "--config=" + resolve_config_path(arg.split("=", 1)[1])
    return out


def _run_loggers(root: str) -> list[Logger]:
    """CSV (and TensorBoard if installed) loggers in ``root/logs/version_N``, one new
    version per launch, so that resuming a run never overwrites the logs of the previous
    launch (CSVLogger deletes an existing ``metrics.csv``)."""
    logs = Path(root, "logs")
    version = sum(1 for p in logs.glob("version_*") if p.is_dir()) if logs.is_dir() else 0
    loggers: list[Logger] = [CSVLogger(root, name="logs", version=version)]
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return loggers
    return loggers + [
        TensorBoardLogger(root, name="logs", version=version, default_hp_metric=False)
    ]


def _resume_path(root: str, ckpt_path: str | None) -> str | None:
    """The checkpoint to resume from; refuses to start a new run over an existing one."""
    last = os.path.join(root, "checkpoints", "last.ckpt")
    if ckpt_path == "last":
        if not os.path.isfile(last):
            raise FileNotFoundError(f"--ckpt_path last: {last} does not exist")
        return last
    if ckpt_path is None and os.path.exists(last):
        raise FileExistsError(
            f"run directory {root} already holds a run ({last}): resume it with "
            "--ckpt_path last or choose another --trainer.default_root_dir"
        )
    return ckpt_path


class CGTCLI(LightningCLI):
    """LightningCLI for cgt: links the data's featurizer/targets/task into the model, adds
    ``--ckpt_path``, and gives the trainer the run-directory loggers, the ``best``/``last``
    checkpoints and atomic checkpoint writes unless the config sets its own, and with
    ``sync_batchnorm`` off CUDA, cgt's synchronised BatchNorm (:mod:`cgt.cli.layer_sync`)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--ckpt_path",
            type=str | None,
            default=None,
            help="resume from this checkpoint; 'last' = checkpoints/last.ckpt of the run dir",
        )
        for key in ("featurizer", "target_names", "task"):
            parser.link_arguments(f"data.{key}", f"model.{key}", apply_on="instantiate")

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self._get(self.config_init, "trainer", default={})
        root = config.get("default_root_dir") or os.getcwd()
        self.resume_path = _resume_path(root, self.config.get("ckpt_path"))
        if config.get("logger") in (None, True):
            kwargs["logger"] = _run_loggers(root)
        plugins = config.get("plugins") or [AtomicCheckpointIO()]
        plugins = list(plugins) if isinstance(plugins, list | tuple) else [plugins]
        sync = config.get("sync_batchnorm") and not any(isinstance(p, LayerSync) for p in plugins)
        if sync and (layer_sync := batchnorm_sync_for(config.get("accelerator"))) is not None:
            plugins.append(layer_sync)
        kwargs["plugins"] = plugins
        monitor, mode = (
            ("val_mae", "min") if self.model.task == "regression" else ("val_loss", "min")
        )
        directory = os.path.join(root, "checkpoints")
        self.trainer_defaults["callbacks"] = [
            # best first: it is the trainer's `checkpoint_callback`
            ModelCheckpoint(
                directory, "best", monitor=monitor, mode=mode, enable_version_counter=False
            ),
            # every epoch (ModelCheckpoint(save_last=True) writes `last` only with a new best)
            ModelCheckpoint(directory, "last", enable_version_counter=False),
            LearningRateMonitor(logging_interval="epoch"),
        ]
        return super().instantiate_trainer(**kwargs)


def main(args: list[str] | None = None) -> None:
    """Command-line entry point (``python -m cgt.train``, ``cgt-train``): :func:`train`."""
    train(args)


def train(args: list[str] | None = None) -> dict[str, Any]:
    """Trains, tests the best-validation checkpoint, writes and returns ``metrics.json``.

    Args:
        args: command-line arguments (default ``sys.argv[1:]``), e.g.
            ``["--config", "zinc-tiny.yaml", "--trainer.default_root_dir", "runs/x"]``;
            with ``--ensemble N``, an ensemble (:func:`cgt.cli.ensemble.train_ensemble`).
    """
    from cgt.cli.ensemble import (  # they build on this module
        DEFAULT_MC_DROPOUT,
        calibrate_mc_dropout,
        pop_ensemble_args,
        train_ensemble,
    )

    members, mc_dropout, rest = pop_ensemble_args(sys.argv[1:] if args is None else list(args))
    if members is not None:
        passes = DEFAULT_MC_DROPOUT if mc_dropout is None else mc_dropout
        return train_ensemble(_resolve_config_args(rest), members, passes)
    if mc_dropout:
        return calibrate_mc_dropout(train(rest), mc_dropout)
    if args is None:  # from the command line: LightningCLI reads sys.argv itself
        sys.argv[1:] = _resolve_config_args(sys.argv[1:])
    else:
        args = _resolve_config_args(list(args))
    with warnings.catch_warnings():  # in-process calls give `args` while sys.argv is pytest's
        warnings.filterwarnings("ignore", "LightningCLI's args parameter")
        cli = CGTCLI(
            CGTModule,
            LightningDataModule,
            subclass_mode_data=True,
            run=False,
            args=args,
            save_config_kwargs={"overwrite": True},
        )
    model, trainer, datamodule = cli.model, cli.trainer, cli.datamodule
    root = Path(trainer.default_root_dir)
    checkpoint = trainer.checkpoint_callback
    ckpt_path = cli.resume_path
    model.run_config = yaml.safe_load(cli.parser.dump(cli.config, skip_none=False))
    print(f"CGT: {model.num_parameters:,} trainable parameters", flush=True)

    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    fit_seconds = time.perf_counter() - start

    best = checkpoint.best_model_path or None
    tested = trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=True)
    monitor = checkpoint.monitor
    metrics: dict[str, Any] = {
        "num_parameters": model.num_parameters,
        "task": model.task,
        "monitor": monitor,
        f"best_{monitor}": _number(checkpoint.best_model_score),
        "best_epoch": torch.load(best, weights_only=True)["epoch"] if best else None,
        "best_checkpoint": best,
        "last_checkpoint": os.path.join(checkpoint.dirpath, "last.ckpt"),
        "epochs": trainer.current_epoch,
        "seed": cli.config.get("seed_everything"),
        "fit_seconds": round(fit_seconds, 1),
        "resumed_from": ckpt_path,
    }
    metrics.update({key: _number(value) for key, value in (tested[0] if tested else {}).items()})
    if trainer.is_global_zero:
        path = root / "metrics.json"
        path.write_text(json.dumps(metrics, indent=2) + "\n")
        print(f"metrics written to {path}", flush=True)
        _report(root, model.device)
    return metrics


def _report(root: Path, device: torch.device) -> None:
    """The run's pictures (:mod:`cgt.cli.report`); a failure there does not fail a finished
    training: it is reported, and ``python -m cgt.report RUN_DIR`` can redo them."""
    try:
        written = write_report(root, device=device if device.type == "cuda" else "cpu")
    except Exception as error:
        print(f"warning: the run's pictures could not be drawn: {error}", file=sys.stderr)
        return
    print(f"pictures written to {root}: {', '.join(p.name for p in written)}", flush=True)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


if __name__ == "__main__":
    main()
