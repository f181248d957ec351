"""Training an ensemble: ``python -m cgt.train --config X --ensemble N``.

Member ``k`` is the run of ``python -m cgt.train`` with the same arguments in
``RUN_DIR/member_k/`` and seed ``seed_everything + k`` (its weights and its training order;
the data split is the config's, the same for all). Then, with every member's best-validation
checkpoint:

- the ensemble (the mean of the members) and its spread are scored on the validation and
  test splits; the z-score scaling of the spread is fitted on validation only;
- with ``--mc_dropout K`` (default 20; 0: off) and a model trained with dropout, each
  member's Monte Carlo dropout spread is calibrated the same way and the factor written
  into its ``best.ckpt`` (so ``load_model(member)`` with ``mc_dropout`` is calibrated too);
- the test split's parity plot with error bars and calibration curve go into ``RUN_DIR``
  (the ensemble) and each ``member_k/`` (its MC dropout), :mod:`cgt.uncertainty_figures`;
- ``RUN_DIR/ensemble.json`` lists the members with the ensemble's calibration
  (:mod:`cgt.ensemble`), ``RUN_DIR/metrics.json`` holds each member's and the ensemble's test
  metrics and the uncertainty scores (:mod:`cgt.uncertainty_eval`), and
  ``RUN_DIR/test_predictions.csv`` the ensemble's test predictions.

A killed ensemble run resumes with the same command: finished members (with
``metrics.json``) are not retrained, an interrupted one continues from its ``last.ckpt``.
``python -m cgt.train --config X --mc_dropout K`` without ``--ensemble`` trains one model
as usual, then does the Monte Carlo dropout part for it (:func:`calibrate_mc_dropout`).

The scores cover the whole validation and test splits (``limit_*_batches`` of the trainer
only limit each member's own training run).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import LightningDataModule

from cgt.checkpoint import write_calibration
from cgt.cli.report import datamodule_from_config
from cgt.cli.train import CGTCLI, train
from cgt.ensemble import is_ensemble_dir, member_dir, write_manifest
from cgt.ensemble_predictor import EnsemblePredictor
from cgt.inference import STD_SUFFIX, CGTPredictor, load_checkpoint, load_model
from cgt.mc_dropout import has_dropout
from cgt.system import CGTModule
from cgt.uncertainty_eval import (
    SplitPredictions,
    evaluate_uncertainty,
    point_metrics,
    split_predictions,
)
from cgt.uncertainty_figures import write_uncertainty_figures

__all__ = [
    "DEFAULT_MC_DROPOUT",
    "calibrate_mc_dropout",
    "pop_ensemble_args",
    "train_ensemble",
    "uncertainty_pictures",
]

#: Monte Carlo dropout passes per member when calibrating at the end of an ensemble run.
DEFAULT_MC_DROPOUT = 20


def pop_ensemble_args(args: list[str]) -> tuple[int | None, int | None, list[str]]:
    """``(members, mc_dropout, rest)``: the values of ``--ensemble N`` and ``--mc_dropout K``
    (``None`` where absent) taken out of ``args``.

    Raises:
        ValueError: a value that is missing or not a positive integer (``K >= 0``).
    """
    values: dict[str, int] = {}
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        name, _, inline = arg.partition("=")
        if name not in ("--ensemble", "--mc_dropout"):
            rest.append(arg)
            continue
        text = inline if inline else next(items, "")
        minimum = 1 if name == "--ensemble" else 0
        if not text.isdigit() or int(text) < minimum:
            raise ValueError(f"{name} needs an integer >= {minimum}, got {text!r}")
        values[name] = int(text)
    return values.get("--ensemble"), values.get("--mc_dropout"), rest


class _ConfigOnly(CGTCLI):
    """Parses the training arguments like ``python -m cgt.train`` and builds nothing."""

    def instantiate_classes(self) -> None:
        return None


def _run_settings(args: list[str]) -> tuple[Path, int]:
    """The run directory and the base seed that ``args`` give the ensemble."""
    if any(a == "--ckpt_path" or a.startswith("--ckpt_path=") for a in args):
        raise ValueError(
            "--ckpt_path does not go with --ensemble: rerun the same command, and the "
            "ensemble continues its unfinished members"
        )
    with warnings.catch_warnings():  # in-process calls give `args` while sys.argv is pytest's
        warnings.filterwarnings("ignore", "LightningCLI's args parameter")
        cli = _ConfigOnly(
            CGTModule, LightningDataModule, subclass_mode_data=True, run=False, args=args
        )
    root = cli.config["trainer"].get("default_root_dir") or "."
    seed = cli.config.get("seed_everything")
    return Path(root), seed if isinstance(seed, int) and not isinstance(seed, bool) else 0


def train_ensemble(args: list[str], members: int, mc_dropout: int = DEFAULT_MC_DROPOUT) -> dict:
    """Trains (or finishes) the ``members`` of an ensemble, then scores and calibrates it.

    Args:
        args: the arguments of ``python -m cgt.train`` (config and overrides) without
            ``--ensemble``.
        members: number of members ``N``.
        mc_dropout: Monte Carlo dropout passes per member for its calibration (0: none).

    Returns:
        The ensemble's ``metrics.json``.
    """
    start = time.perf_counter()
    root, seed = _run_settings(args)
    seeds = [seed + k for k in range(members)]
    member_metrics = []
    for k, member_seed in enumerate(seeds):
        directory = member_dir(root, k)
        done = directory / "metrics.json"
        if done.is_file():
            print(f"ensemble member {k}: finished ({done}), not retrained", flush=True)
        else:
            resume = (directory / "checkpoints" / "last.ckpt").is_file()
            print(f"ensemble member {k}: {'resuming' if resume else 'training'}", flush=True)
            train(
                [
                    *args,
                    "--trainer.default_root_dir", str(directory),
                    "--seed_everything", str(member_seed),
                    *(["--ckpt_path", "last"] if resume else []),
                ]
            )  # fmt: skip
        member_metrics.append(json.loads(done.read_text()))
    checkpoints = [Path(m["best_checkpoint"] or m["last_checkpoint"]) for m in member_metrics]
    metrics = _score(root, checkpoints, seeds, member_metrics, mc_dropout)
    metrics["wall_seconds"] = round(time.perf_counter() - start, 1)
    (root / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"ensemble metrics written to {root / 'metrics.json'}", flush=True)
    return metrics


def _score(
    root: Path,
    checkpoints: list[Path],
    seeds: list[int],
    member_metrics: list[dict],
    mc_dropout: int,
) -> dict[str, Any]:
    """Scores the ensemble and its members, calibrates, writes the manifest and the test
    predictions; returns the ensemble's metrics."""
    ensemble = EnsemblePredictor([load_checkpoint(c) for c in checkpoints])
    info = ensemble.members[0].checkpoint
    names, task = list(info.target_names), info.task
    data = datamodule_from_config(info.config)
    val = split_predictions(ensemble, data.val_dataloader())
    test = split_predictions(ensemble, data.test_dataloader())
    calibration, scores = evaluate_uncertainty(val, test, names, task, "ensemble")
    write_manifest(root, checkpoints, info, calibration, seeds=seeds)
    _write_test_predictions(root / "test_predictions.csv", test, names, calibration)
    label = f"{len(checkpoints)}-member ensemble, test split"
    _figures(root, test, names, task, calibration, label)
    metrics: dict[str, Any] = {
        "members": len(checkpoints),
        "seeds": seeds,
        "task": task,
        "fit_seconds": round(sum(m.get("fit_seconds") or 0.0 for m in member_metrics), 1),
        "member_metrics": [
            {
                "member": k,
                "seed": seed,
                "best_checkpoint": str(path),
                **point_metrics(test.y, test.samples[k], task),
            }
            for k, (seed, path) in enumerate(zip(seeds, checkpoints, strict=True))
        ],
        "ensemble": {**scores, "calibration": calibration},
    }
    if mc_dropout > 0 and has_dropout(ensemble.model):
        metrics["mc_dropout"] = _mc_dropout(ensemble, checkpoints, data, names, task, mc_dropout)
    return metrics


def _mc_dropout(
    ensemble: EnsemblePredictor,
    checkpoints: list[Path],
    data: LightningDataModule,
    names: list[str],
    task: str,
    passes: int,
) -> dict[str, Any]:
    """Each member alone with Monte Carlo dropout, see :func:`_calibrate_member`."""
    results = [
        {"member": k, **_calibrate_member(member, path, data, names, task, passes, f"member {k}")}
        for k, (member, path) in enumerate(zip(ensemble.members, checkpoints, strict=True))
    ]
    return {"passes": passes, "members": results}


def _calibrate_member(
    member: CGTPredictor,
    path: Path,
    data: LightningDataModule,
    names: list[str],
    task: str,
    passes: int,
    name: str,
) -> dict[str, Any]:
    """One model with Monte Carlo dropout (seeded): calibrated on val (the factor goes into
    its checkpoint at ``path``), scored on test, pictures in its run directory."""
    torch.manual_seed(0)
    val = split_predictions(member, data.val_dataloader(), passes)
    test = split_predictions(member, data.test_dataloader(), passes)
    calibration, scores = evaluate_uncertainty(
        val, test, names, task, "mc_dropout", mc_dropout=passes
    )
    if calibration is not None:
        write_calibration(path, calibration)
    label = f"{name}, MC dropout ({passes} passes), test split"
    _figures(path.parent.parent, test, names, task, calibration, label)
    return {**scores, "calibration": calibration}


def calibrate_mc_dropout(metrics: dict[str, Any], passes: int) -> dict[str, Any]:
    """After a single run (``python -m cgt.train ... --mc_dropout K``): calibrates the Monte
    Carlo dropout spread of its best checkpoint on val, scores it on test, draws the
    pictures, and adds ``"mc_dropout"`` to its ``metrics.json``.

    Args:
        metrics: the run's ``metrics.json`` as :func:`cgt.cli.train.train` returned it.
        passes: Monte Carlo dropout passes ``K``.

    Raises:
        ValueError: the model was trained without dropout (its passes would not differ).
    """
    path = Path(metrics["best_checkpoint"] or metrics["last_checkpoint"])
    member = load_checkpoint(path)
    if not has_dropout(member.model):
        raise ValueError(
            f"{path} was trained without dropout: Monte Carlo dropout has no spread to calibrate"
        )
    info = member.checkpoint
    data = datamodule_from_config(info.config)
    result = _calibrate_member(
        member, path, data, list(info.target_names), info.task, passes, "single model"
    )
    metrics = {**metrics, "mc_dropout": {"passes": passes, **result}}
    (path.parent.parent / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _figures(
    directory: Path,
    test: SplitPredictions,
    names: list[str],
    task: str,
    calibration: dict | None,
    label: str,
) -> list[Path]:
    """The parity plot with error bars and the calibration curve (regression only)."""
    if task != "regression":
        return []
    scale = None if calibration is None else calibration["std_scale"]
    return write_uncertainty_figures(directory, test.y, test.mean, test.std, names, scale, label)


def uncertainty_pictures(run_dir: str | Path) -> list[Path]:
    """Redraws the uncertainty pictures of a run directory from what it holds (called by
    ``python -m cgt.report``): an ensemble (``ensemble.json``: the members' spread with its
    calibration) or a single run whose best checkpoint carries a Monte Carlo dropout
    calibration (its passes, seeded); nothing for other runs.

    Returns:
        The files written.
    """
    run = Path(run_dir)
    best = run / "checkpoints" / "best.ckpt"
    if is_ensemble_dir(run):
        model = load_model(run)
        passes, calibration = 0, {"std_scale": model.std_scale}
        info = model.members[0].checkpoint
        label = f"{len(model.members)}-member ensemble, test split"
    elif best.is_file():
        model = load_checkpoint(best)
        info, calibration = model.checkpoint, model.checkpoint.calibration
        if calibration is None or calibration.get("spread") != "mc_dropout":
            return []
        passes = int(calibration.get("mc_dropout", DEFAULT_MC_DROPOUT))
        label = f"single model, MC dropout ({passes} passes), test split"
    else:
        return []
    if model.std_scale is None:
        calibration = None
    torch.manual_seed(0)
    test = split_predictions(model, datamodule_from_config(info.config).test_dataloader(), passes)
    return _figures(run, test, list(info.target_names), info.task, calibration, label)


def _write_test_predictions(
    path: Path, test: SplitPredictions, names: list[str], calibration: dict | None
) -> None:
    """The ensemble's test predictions: per target the truth, the mean, the spread
    (calibrated if a calibration exists) and the raw spread."""
    scale = np.ones(len(names)) if calibration is None else np.array(calibration["std_scale"])
    table = pd.DataFrame({"smiles": test.smiles})
    for k, name in enumerate(names):
        table[name] = test.y[:, k]
        table[f"{name}_pred"] = test.mean[:, k]
        table[f"{name}{STD_SUFFIX}"] = test.std[:, k] * scale[k]
        table[f"{name}{STD_SUFFIX}_raw"] = test.std[:, k]
    table.to_csv(path, index=False)
