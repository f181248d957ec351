"""Pictures of predicted uncertainty: a parity plot with error bars and a calibration curve.

Each function takes arrays and writes one PNG, with ``matplotlib.figure.Figure`` and the Agg
canvas directly (never ``pyplot``), so it works headless and leaves no global state.
:func:`write_uncertainty_figures` draws both for every target of a run's test predictions
(called at the end of an ensemble run, :mod:`cgt.cli.ensemble`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cgt.uncertainty_metrics import CURVE_LEVELS, calibration_curve, miscalibration_area

__all__ = ["calibration_plot", "parity_error_bars", "write_uncertainty_figures"]

_DPI = 100


def parity_error_bars(
    y: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    path: str | os.PathLike,
    title: str = "",
    std_label: str = "std",
) -> Path:
    """Predicted vs true values with ±1 standard deviation error bars, coloured by the
    standard deviation, and the diagonal (rows with a NaN are left out); ``std_label``
    names the standard deviation on the axes (``"calibrated std"``).

    Returns:
        ``path``.
    """
    y, mean, std = (np.asarray(a, dtype=np.float64).ravel() for a in (y, mean, std))
    keep = np.isfinite(y) & np.isfinite(mean) & np.isfinite(std)
    y, mean, std = y[keep], mean[keep], std[keep]
    figure = Figure(figsize=(5.2, 4.6), dpi=_DPI)
    axes = figure.add_subplot()
    axes.errorbar(y, mean, yerr=std, fmt="none", ecolor="0.6", elinewidth=0.7, alpha=0.6, zorder=1)
    points = axes.scatter(y, mean, c=std, cmap="viridis", s=14, zorder=2)
    figure.colorbar(points, ax=axes, label=f"predicted {std_label}")
    low, high = min(y.min(), mean.min()), max(y.max(), mean.max())
    axes.plot([low, high], [low, high], color="black", linewidth=0.8, linestyle="--", zorder=3)
    rmse = float(np.sqrt(np.mean((mean - y) ** 2)))
    axes.set(xlabel="true", ylabel=f"predicted (bars: ±1 {std_label})", aspect="equal")
    axes.set_title(f"{title}\n{len(y)} molecules, RMSE {rmse:.3f}".strip(), fontsize=10)
    return _save(figure, path)


def calibration_plot(
    y: np.ndarray,
    mean: np.ndarray,
    curves: dict[str, np.ndarray],
    path: str | os.PathLike,
    title: str = "",
) -> Path:
    """Observed vs expected fraction of true values inside the central Gaussian interval,
    one curve per standard deviation in ``curves`` (e.g. calibrated and raw), and the
    diagonal of a perfectly calibrated model.

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(4.8, 4.6), dpi=_DPI)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle="--", label="ideal")
    for name, std in curves.items():
        observed = calibration_curve(y, mean, std)
        area = miscalibration_area(y, mean, std)
        axes.plot(CURVE_LEVELS, observed, label=f"{name} (miscalibration area {area:.3f})")
    axes.set(
        xlabel="expected fraction inside the interval",
        ylabel="observed fraction",
        xlim=(0, 1),
        ylim=(0, 1),
        aspect="equal",
    )
    axes.set_title(title, fontsize=10)
    axes.legend(loc="upper left", fontsize=8)
    return _save(figure, path)


def write_uncertainty_figures(
    run_dir: str | os.PathLike,
    y: np.ndarray,
    mean: np.ndarray,
    raw_std: np.ndarray,
    target_names: Sequence[str],
    std_scale: Sequence[float] | None,
    label: str,
) -> list[Path]:
    """``parity_uncertainty_<T>.png`` and ``calibration_<T>.png`` per target in ``run_dir``.

    Args:
        y, mean, raw_std: ``[N, T]`` test truths, mean predictions and raw spreads.
        target_names: the ``T`` names.
        std_scale: the calibration factors (the parity bars use the calibrated spread,
            the calibration plot shows both), or ``None``.
        label: what predicted, for the titles (``"5-member ensemble, test split"``).

    Returns:
        The written files.
    """
    written = []
    for k, name in enumerate(target_names):
        raw = raw_std[:, k]
        curves = {"raw spread": raw}
        std, std_label = raw, "raw std"
        if std_scale is not None:
            std_label = "calibrated std"
            std = raw * std_scale[k]
            curves = {f"calibrated (×{std_scale[k]:.2f})": std, **curves}
        title = f"{name}: {label}"
        parity = Path(run_dir) / f"parity_uncertainty_{name}.png"
        written.append(parity_error_bars(y[:, k], mean[:, k], std, parity, title, std_label))
        curve = Path(run_dir) / f"calibration_{name}.png"
        written.append(calibration_plot(y[:, k], mean[:, k], curves, curve, title))
    return written


def _save(figure: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    FigureCanvasAgg(figure)
    figure.savefig(path, bbox_inches="tight")
    return path
