"""Calibrating predicted standard deviations: z-score scaling fitted on the validation split
(docs/design.md §8).

A model (an ensemble, or one model with Monte Carlo dropout) predicts a mean ``ŷ`` and a
spread ``σ`` per molecule and target. The spread is rarely the right size: an ensemble's
members agree more than their errors warrant, so ``σ`` is too small. Z-score scaling
(Levi et al. 2022; chemprop's ``zscaling``) multiplies ``σ`` by one factor ``s`` per target,
the one that maximises the Gaussian likelihood of the validation targets::

    s² = mean over validation molecules of ((y − ŷ) / σ)²

so that the z-scores ``(y − ŷ) / (s·σ)`` have unit variance. It is fitted on the validation
split only (never on test) and applied at prediction (:class:`cgt.inference.CGTPredictor`'s
``std_scale``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["calibration_entry", "fit_std_scale"]


def fit_std_scale(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """The z-score scaling factor of each target.

    Args:
        y: ``[N, T]`` true values (NaN where missing).
        mean: ``[N, T]`` predicted means (NaN where not predicted).
        std: ``[N, T]`` predicted (raw) standard deviations.

    Returns:
        ``[T]`` factors ``s = sqrt(mean(((y − ŷ) / σ)²))`` over the molecules with a known
        target, a prediction and ``σ > 0``.

    Raises:
        ValueError: shapes differ, or a target has no such molecule (no spread to scale:
            e.g. a one-member ensemble, or Monte Carlo dropout on a model without dropout).
    """
    y, mean, std = (np.asarray(a, dtype=np.float64) for a in (y, mean, std))
    if not y.shape == mean.shape == std.shape or y.ndim != 2:
        raise ValueError(
            f"y, mean and std must be [N, T] arrays of one shape, got {y.shape}, "
            f"{mean.shape}, {std.shape}"
        )
    usable = np.isfinite(y) & np.isfinite(mean) & np.isfinite(std) & (std > 0)
    empty = np.flatnonzero(usable.sum(axis=0) == 0)
    if len(empty):
        raise ValueError(
            f"cannot calibrate target(s) {empty.tolist()}: no validation molecule has a known "
            "target and a positive predicted spread (one member, or no dropout?)"
        )
    z2 = np.where(usable, ((y - mean) / np.where(usable, std, 1.0)) ** 2, 0.0)
    return np.sqrt(z2.sum(axis=0) / usable.sum(axis=0))


def calibration_entry(std_scale: np.ndarray, spread: str, **details: Any) -> dict[str, Any]:
    """The calibration stored in a checkpoint or an ensemble manifest.

    Args:
        std_scale: ``[T]`` factors from :func:`fit_std_scale`.
        spread: what was scaled: ``"ensemble"`` or ``"mc_dropout"``.
        details: recorded as they are (e.g. ``mc_dropout=20``, ``molecules=103``).
    """
    return {
        "method": "zscaling",
        "fitted_on": "val",
        "spread": spread,
        "std_scale": [float(s) for s in std_scale],
        **details,
    }
