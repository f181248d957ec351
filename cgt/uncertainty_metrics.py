"""How good a predicted uncertainty is: coverage, miscalibration area, NLL, error ranking
(docs/design.md §8).

Every function reads a prediction as a Gaussian ``N(ŷ, σ²)`` per molecule and target and
scores it against the true values ``y``; rows with a missing target, prediction or ``σ``
(NaN) are left out, and ``σ = 0`` counts as a (degenerate) prediction.

- **coverage** at level ``p``: the fraction of true values inside the central ``p`` interval
  ``ŷ ± z_p σ`` (``z_0.68 ≈ 0.994``, ``z_0.95 ≈ 1.960``); calibrated means ≈ ``p``.
- **miscalibration area**: the mean absolute gap between expected and observed coverage
  over the levels 0.01 … 0.99 (the area between the calibration curve and the diagonal;
  0 is perfect, 0.5 the worst).
- **NLL**: the mean Gaussian negative log-likelihood ``½ log(2πσ²) + (y − ŷ)² / (2σ²)``.
- **Spearman**: the rank correlation between ``|y − ŷ|`` and ``σ`` (does a larger predicted
  uncertainty go with a larger error?).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = [
    "CURVE_LEVELS",
    "calibration_curve",
    "coverage",
    "gaussian_nll",
    "miscalibration_area",
    "spearman_error_std",
    "uncertainty_metrics",
]

#: Expected coverages of the calibration curve and of the miscalibration area.
CURVE_LEVELS = np.round(np.arange(1, 100) / 100, 2)


def _half_width(level: float) -> float:
    """``z`` such that ``N(0, 1)`` puts ``level`` of its mass in ``[−z, z]``."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def _flat(y, mean, std) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three arrays flattened, rows with any NaN left out."""
    y, mean, std = (np.asarray(a, dtype=np.float64).ravel() for a in (y, mean, std))
    if not y.shape == mean.shape == std.shape:
        raise ValueError(f"y, mean and std differ in size: {y.size}, {mean.size}, {std.size}")
    keep = np.isfinite(y) & np.isfinite(mean) & np.isfinite(std)
    if not keep.any():
        raise ValueError("no molecule has a true value, a prediction and a standard deviation")
    return y[keep], mean[keep], std[keep]


def coverage(y, mean, std, level: float) -> float:
    """Fraction of ``y`` inside the central ``level`` interval ``mean ± z·std``."""
    y, mean, std = _flat(y, mean, std)
    z = _half_width(level)
    return float(np.mean(np.abs(y - mean) <= z * std))


def calibration_curve(y, mean, std, levels: np.ndarray = CURVE_LEVELS) -> np.ndarray:
    """Observed coverage at each expected level (the calibration curve's y values)."""
    y, mean, std = _flat(y, mean, std)
    z = np.array([_half_width(level) for level in levels])
    inside = np.abs(y - mean)[:, None] <= std[:, None] * z[None, :]
    return inside.mean(axis=0)


def miscalibration_area(y, mean, std) -> float:
    """Mean absolute gap between expected and observed coverage over :data:`CURVE_LEVELS`."""
    return float(np.mean(np.abs(calibration_curve(y, mean, std) - CURVE_LEVELS)))


def gaussian_nll(y, mean, std) -> float:
    """Mean Gaussian negative log-likelihood of ``y`` (``inf`` if some ``σ = 0`` misses)."""
    y, mean, std = _flat(y, mean, std)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = std**2
        terms = 0.5 * np.log(2 * math.pi * var) + (y - mean) ** 2 / (2 * var)
    return float(np.mean(terms))


def spearman_error_std(y, mean, std) -> float:
    """Spearman correlation between ``|y − mean|`` and ``std`` (NaN if either is constant)."""
    y, mean, std = _flat(y, mean, std)
    if np.ptp(std) == 0 or np.ptp(np.abs(y - mean)) == 0:
        return math.nan
    ranks = pd.DataFrame({"error": np.abs(y - mean), "std": std}).rank()
    return float(np.corrcoef(ranks["error"], ranks["std"])[0, 1])


def uncertainty_metrics(y, mean, std) -> dict[str, float]:
    """The scores above and the error ratio of the most uncertain tenth, in one dict.

    ``top10_mae_ratio``: MAE of the 10% of molecules with the largest ``std`` over the MAE
    of the other 90% (> 1: the uncertainty points at the larger errors).
    """
    flat_y, flat_mean, flat_std = _flat(y, mean, std)
    error = np.abs(flat_y - flat_mean)
    count = max(1, round(0.1 * len(error)))
    order = np.argsort(-flat_std, kind="stable")
    rest = error[order[count:]]
    ratio = math.nan
    if len(rest) and rest.mean() > 0:
        ratio = float(error[order[:count]].mean() / rest.mean())
    return {
        "coverage_68": coverage(y, mean, std, 0.68),
        "coverage_95": coverage(y, mean, std, 0.95),
        "miscalibration_area": miscalibration_area(y, mean, std),
        "nll": gaussian_nll(y, mean, std),
        "spearman_error_std": spearman_error_std(y, mean, std),
        "top10_mae_ratio": ratio,
    }
