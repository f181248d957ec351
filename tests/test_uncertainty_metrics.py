"""Scores of predicted uncertainties (cgt.uncertainty_metrics) and z-score calibration
(cgt.calibration) on synthetic Gaussian data whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cgt.calibration import calibration_entry, fit_std_scale
from cgt.uncertainty_metrics import (
    CURVE_LEVELS,
    calibration_curve,
    coverage,
    gaussian_nll,
    miscalibration_area,
    spearman_error_std,
    uncertainty_metrics,
)


def gaussian(n: int = 20000, scale: float = 1.0, seed: int = 0):
    """Targets drawn around ``mean`` with standard deviation ``scale * std``."""
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=n)
    std = rng.uniform(0.2, 2.0, size=n)
    y = mean + scale * std * rng.normal(size=n)
    return y, mean, std


def test_calibrated_gaussians_cover_their_levels():
    y, mean, std = gaussian()
    assert coverage(y, mean, std, 0.68) == pytest.approx(0.68, abs=0.01)
    assert coverage(y, mean, std, 0.95) == pytest.approx(0.95, abs=0.005)
    np.testing.assert_allclose(calibration_curve(y, mean, std), CURVE_LEVELS, atol=0.015)
    assert miscalibration_area(y, mean, std) < 0.01


def test_overconfidence_shows():
    y, mean, std = gaussian(scale=2.0)
    assert coverage(y, mean, std, 0.95) < 0.75
    assert miscalibration_area(y, mean, std) > 0.15
    assert gaussian_nll(y, mean, std) > gaussian_nll(y, mean, 2.0 * std)


def test_nll_by_hand_and_nan_rows_left_out():
    y, mean, std = (
        np.array([1.0, 0.0, np.nan]),
        np.array([0.0, 0.0, 1.0]),
        np.array([1.0, 2.0, 1.0]),
    )
    expected = np.mean([0.5 * math.log(2 * math.pi) + 0.5, 0.5 * math.log(2 * math.pi * 4)])
    assert gaussian_nll(y, mean, std) == pytest.approx(expected)
    with pytest.raises(ValueError, match="no molecule"):
        coverage([np.nan], [0.0], [1.0], 0.5)


def test_spearman_ranks_errors_by_std():
    y, mean, std = gaussian()
    assert spearman_error_std(y, mean, std) > 0.3  # bigger std, bigger errors on average
    std = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman_error_std([0.1, 0.5, 0.7, 3.0], np.zeros(4), std) == pytest.approx(1.0)
    assert spearman_error_std([3.0, 0.7, 0.5, 0.1], np.zeros(4), std) == pytest.approx(-1.0)
    assert math.isnan(spearman_error_std([1.0, 2.0], [0.0, 0.0], [1.0, 1.0]))


def test_the_most_uncertain_tenth_has_the_larger_errors():
    y = np.concatenate([np.full(90, 1.0), np.full(10, 5.0)])
    std = np.concatenate([np.full(90, 0.1), np.full(10, 1.0)])
    scores = uncertainty_metrics(y, np.zeros(100), std)
    assert scores["top10_mae_ratio"] == pytest.approx(5.0)
    assert set(scores) == {
        "coverage_68",
        "coverage_95",
        "miscalibration_area",
        "nll",
        "spearman_error_std",
        "top10_mae_ratio",
    }


def test_z_scaling_recovers_the_scale_and_calibrates():
    y, mean, std = gaussian(scale=3.0)
    second = gaussian(scale=0.5, seed=1)
    ys, means, stds = (np.stack(pair, axis=1) for pair in zip((y, mean, std), second, strict=True))
    scale = fit_std_scale(ys, means, stds)
    np.testing.assert_allclose(scale, [3.0, 0.5], rtol=0.02)
    assert coverage(y, mean, scale[0] * std, 0.95) == pytest.approx(0.95, abs=0.01)


def test_z_scaling_skips_missing_and_zero_spread_and_refuses_none():
    y = np.array([[1.0], [np.nan], [5.0], [2.0]])
    mean = np.array([[0.0], [0.0], [0.0], [0.0]])
    std = np.array([[1.0], [1.0], [0.0], [2.0]])
    assert fit_std_scale(y, mean, std)[0] == pytest.approx(1.0)  # z = 1 and 1
    with pytest.raises(ValueError, match="cannot calibrate target"):
        fit_std_scale(y, mean, np.zeros_like(std))
    with pytest.raises(ValueError, match="one shape"):
        fit_std_scale(y, mean, std[:2])
    entry = calibration_entry(np.array([1.5]), "ensemble", molecules=3)
    assert entry["std_scale"] == [1.5] and entry["fitted_on"] == "val" and entry["molecules"] == 3
