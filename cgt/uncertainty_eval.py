"""Scoring a predictor's uncertainty on a data module's splits, and calibrating it on val.

:func:`split_predictions` runs a predictor (one model, an ensemble, with or without Monte
Carlo dropout) over a split's loader and keeps every sample; :func:`evaluate_uncertainty`
fits the z-score scaling on the validation split (:mod:`cgt.calibration`) and scores the
test split with it (:mod:`cgt.uncertainty_metrics`). The test split never enters the fit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import binary_auroc

from cgt.calibration import calibration_entry, fit_std_scale
from cgt.inference import CGTPredictor
from cgt.uncertainty_metrics import uncertainty_metrics

__all__ = ["SplitPredictions", "evaluate_uncertainty", "point_metrics", "split_predictions"]


@dataclass(frozen=True)
class SplitPredictions:
    """A split's true values and the predictor's samples for it.

    Attributes:
        smiles: ``N`` SMILES, in loader order.
        y: ``[N, T]`` true values (NaN where missing).
        samples: ``[S, N, T]`` predictions in target units, one row per member / pass.
    """

    smiles: list[str]
    y: np.ndarray
    samples: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """``[N, T]`` the mean prediction."""
        return self.samples.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        """``[N, T]`` the raw spread (standard deviation over samples, ``ddof=0``)."""
        return self.samples.std(axis=0)


def split_predictions(
    predictor: CGTPredictor, loader: Iterable, mc_dropout: int = 0
) -> SplitPredictions:
    """Every sample of ``predictor`` (see :meth:`CGTPredictor.samples`) on the batches of
    ``loader`` (a data module's ``val_dataloader()`` / ``test_dataloader()``)."""
    smiles: list[str] = []
    targets, samples = [], []
    for batch in loader:
        out = predictor.samples(batch, mc_dropout).double().cpu().numpy()
        samples.append(out)
        targets.append(batch.y.view(out.shape[1], out.shape[2]).double().cpu().numpy())
        smiles += list(batch.smiles)
    return SplitPredictions(smiles, np.concatenate(targets), np.concatenate(samples, axis=1))


def point_metrics(y: np.ndarray, pred: np.ndarray, task: str) -> dict[str, float]:
    """``test_mae`` and ``test_rmse`` over every known target (regression, as the training
    system pools them), or ``test_auroc`` averaged over targets (classification)."""
    known = np.isfinite(y)
    if task == "regression":
        error = (pred - y)[known]
        return {
            "test_mae": float(np.abs(error).mean()),
            "test_rmse": float(np.sqrt((error**2).mean())),
        }
    scores = [
        binary_auroc(
            torch.from_numpy(pred[known[:, k], k]), torch.from_numpy(y[known[:, k], k]).long()
        )
        for k in range(y.shape[1])
        if known[:, k].any()
    ]
    return {"test_auroc": float(torch.stack(scores).mean())}


def evaluate_uncertainty(
    val: SplitPredictions,
    test: SplitPredictions,
    target_names: list[str],
    task: str,
    spread: str,
    **details: Any,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Calibration fitted on ``val`` and the scores of ``test``.

    Args:
        val, test: the predictor's samples on the validation and test splits.
        target_names: one name per target (keys of the per-target scores).
        task: ``"regression"`` (calibrated and scored) or ``"classification"`` (point
            metrics only: z-score scaling is for Gaussian regression errors).
        spread: what the samples are, ``"ensemble"`` or ``"mc_dropout"`` (recorded).
        details: recorded in the calibration entry (e.g. ``mc_dropout=20``).

    Returns:
        ``(calibration, metrics)``: the calibration entry (``None`` for classification or
        when there is no spread to scale; ``metrics["calibration_error"]`` says why) and
        the test metrics: the point metrics of the mean, and for regression
        ``test_uncertainty`` (calibrated) and ``test_uncertainty_raw``, per target.
    """
    metrics: dict[str, Any] = point_metrics(test.y, test.mean, task)
    if task != "regression":
        return None, metrics
    raw = _per_target(test.y, test.mean, test.std, target_names)
    try:
        scale = fit_std_scale(val.y, val.mean, val.std)
    except ValueError as err:
        metrics.update(calibration_error=str(err), test_uncertainty_raw=raw)
        return None, metrics
    calibration = calibration_entry(scale, spread, molecules=len(val.smiles), **details)
    metrics["std_scale"] = calibration["std_scale"]
    metrics["test_uncertainty"] = _per_target(test.y, test.mean, test.std * scale, target_names)
    metrics["test_uncertainty_raw"] = raw
    return calibration, metrics


def _per_target(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray, names: list[str]
) -> dict[str, dict[str, float]]:
    return {
        name: uncertainty_metrics(y[:, k], mean[:, k], std[:, k]) for k, name in enumerate(names)
    }
