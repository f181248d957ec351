"""Pictures of a training run: ``python -m cgt.report RUN_DIR`` (``cgt-report``); also run by
``python -m cgt.train`` at the end of training.

Writes into the run directory:

- ``learning_curves.png``: training loss, validation loss and metrics per epoch, and the
  learning rate, with the best checkpoint's epoch marked (from ``logs/version_*/metrics.csv``;
  the launches of a resumed run are joined);
- for each of the validation and test splits, scored with ``checkpoints/best.ckpt``:
  ``predictions_<split>.csv`` (``smiles``, the true value of each target and its prediction
  ``<target>_pred``) and ``parity_<split>.png`` (regression: predicted against true, one
  panel per target, MAE / RMSE / R²) or ``roc_<split>.png`` (classification, AUROC).

With uncertainty (:mod:`cgt.cli.ensemble`): in an ensemble's run directory (``ensemble.json``),
and in a run whose best checkpoint carries a Monte Carlo dropout calibration,
``parity_uncertainty_<target>.png`` and ``calibration_<target>.png`` (test split).

The splits are rebuilt from the data configuration stored in the best checkpoint (the
resolved config of the run), so the molecules are exactly those training used. A run
without a test split (or whose data file is gone) gets the pictures it can have; what is
left out is said on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from cgt.checkpoint import CheckpointError
from cgt.cli.options import add_threads_option, apply_threads, parse_units
from cgt.ensemble import is_ensemble_dir
from cgt.figures import epoch_table, learning_curves, parity_plot, roc_plot
from cgt.inference import CGTPredictor, load_model

__all__ = ["main", "write_report", "split_predictions", "datamodule_from_config"]

EXIT_OK = 0
EXIT_USAGE = 2
SPLITS = ("val", "test")


def write_report(
    run_dir: str | Path,
    splits: tuple[str, ...] = SPLITS,
    device: str | torch.device = "cpu",
    log=None,
    units: dict[str, str] | None = None,
) -> list[Path]:
    """Writes the pictures (and split predictions) of a run directory; see the module doc.

    Args:
        run_dir: a ``--trainer.default_root_dir`` of ``python -m cgt.train``.
        splits: the splits to score with the best checkpoint.
        device: where the model predicts.
        log: ``print``-like function for notes (default: stderr).
        units: optional units of the targets, by name, for the axis labels (the run
            does not know them).

    Returns:
        The files written.

    Raises:
        FileNotFoundError: ``run_dir`` is not a directory.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"run directory {run} does not exist")
    note = log or (lambda text: print(text, file=sys.stderr, flush=True))
    if is_ensemble_dir(run):  # its members have their own pictures; the ensemble its spread's
        return _uncertainty(run, note)
    written: list[Path] = []
    summary = _read_json(run / "metrics.json")
    best = run / "checkpoints" / "best.ckpt"
    best_epoch = summary.get("best_epoch")
    if best_epoch is None and best.is_file():
        best_epoch = torch.load(best, map_location="cpu", weights_only=True).get("epoch")

    logs = sorted(run.glob("logs/version_*/metrics.csv"), key=_version)
    epochs = epoch_table([pd.read_csv(p) for p in logs])
    if len(epochs):
        written.append(
            learning_curves(
                epochs,
                run / "learning_curves.png",
                monitor=summary.get("monitor") or _default_monitor(epochs),
                best_epoch=best_epoch,
                title=f"{run.resolve().name}: learning curves",
            )
        )
    else:
        note(f"report: no epoch metrics in {run}/logs/version_*/metrics.csv: no learning curves")

    if not best.is_file():
        note(f"report: {best} does not exist: no predictions on the splits")
        return written
    model = load_model(best, device=device)
    try:
        datamodule = datamodule_from_config(model.checkpoint.config)
    except Exception as error:  # any failure to rebuild the data: say why
        note(f"report: cannot rebuild the run's data from its config ({error}): no split plots")
        return written
    for split in splits:
        try:
            table = split_predictions(model, datamodule, split)
        except Exception as error:
            note(f"report: cannot predict the {split} split ({error}): left out")
            continue
        if table is None:
            note(f"report: the run has no {split} split: left out")
            continue
        table.to_csv(run / f"predictions_{split}.csv", index=False)
        written.append(run / f"predictions_{split}.csv")
        names = model.target_names
        true = table[names].to_numpy(float)
        pred = table[[f"{name}_pred" for name in names]].to_numpy(float)
        epoch = "" if best_epoch is None else f", epoch {best_epoch}"
        label = f"{run.resolve().name}: best checkpoint{epoch}"
        if model.task == "regression":
            written.append(
                parity_plot(
                    true, pred, names, run / f"parity_{split}.png", split, units, note=label
                )
            )
        else:
            written.append(roc_plot(true, pred, names, run / f"roc_{split}.png", split, label))
    return written + _uncertainty(run, note)


def _uncertainty(run: Path, note) -> list[Path]:
    """The uncertainty pictures of the run, if it has an uncertainty (see the module doc)."""
    from cgt.cli.ensemble import uncertainty_pictures  # it builds on this module

    try:
        return uncertainty_pictures(run)
    except Exception as error:  # a picture must not fail the report: say why
        note(f"report: cannot draw the uncertainty pictures ({error}): left out")
        return []


def datamodule_from_config(config: dict[str, Any]):
    """The run's data module, built from the ``data`` entry of its resolved config
    (``{"class_path": ..., "init_args": {...}}``)."""
    data = config.get("data") if config else None
    if not isinstance(data, dict) or "class_path" not in data:
        raise ValueError("the checkpoint's config has no data class_path")
    module, _, name = data["class_path"].rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return cls(**(data.get("init_args") or {}))


def split_predictions(model: CGTPredictor, datamodule, split: str) -> pd.DataFrame | None:
    """Predictions of the model on a split of the data module (``None``: no such split).

    Returns:
        ``smiles``, then per target its true value (NaN if missing) and ``<target>_pred``
        (target units; probabilities for classification).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        loader = {"val": datamodule.val_dataloader, "test": datamodule.test_dataloader}[split]()
    if len(loader.dataset) == 0:
        return None
    smiles, trues, preds = [], [], []
    for batch in loader:
        pred = model.forward(batch).double().cpu().numpy()
        trues.append(batch.y.view(pred.shape).double().cpu().numpy())
        preds.append(pred)
        smiles.extend(batch.smiles)
    true, pred = np.concatenate(trues), np.concatenate(preds)
    columns = {"smiles": smiles}  # built at once: models of 100s of targets
    columns |= {name: true[:, k] for k, name in enumerate(model.target_names)}
    columns |= {f"{name}_pred": pred[:, k] for k, name in enumerate(model.target_names)}
    return pd.DataFrame(columns)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cgt.report",
        description="Draw the pictures of a training run into its directory: learning "
        "curves, and parity plots (regression) or ROC curves (classification) of the "
        "validation and test splits scored with the best checkpoint.",
        epilog=f"exit status: {EXIT_OK} written; {EXIT_USAGE} usage error, no such run "
        "directory, an unreadable checkpoint, or nothing to draw",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory")
    parser.add_argument(
        "--splits", nargs="+", choices=SPLITS, default=list(SPLITS), help="splits to plot"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    add_threads_option(parser)
    parser.add_argument(
        "--units",
        nargs="+",
        default=[],
        metavar="TARGET=UNIT",
        help="units of targets for the axis labels, e.g. tpsa=Å² (default: none shown)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    units = parse_units(parser, args.units)
    apply_threads(parser, args)
    try:
        written = write_report(args.run_dir, tuple(args.splits), args.device, units=units)
    except (FileNotFoundError, CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not written:
        print(f"error: nothing to draw in {args.run_dir}", file=sys.stderr)
        return EXIT_USAGE
    print(f"report: wrote {', '.join(p.name for p in written)} to {args.run_dir}", file=sys.stderr)
    return EXIT_OK


def _default_monitor(epochs: pd.DataFrame) -> str:
    """What ``python -m cgt.train`` monitors: ``val_mae`` (regression) or ``val_loss``."""
    return "val_mae" if "val_mae" in epochs else "val_loss"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _version(path: Path) -> int:
    match = re.search(r"version_(\d+)", str(path.parent.name))
    return int(match.group(1)) if match else 0
