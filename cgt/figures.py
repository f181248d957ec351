"""Pictures of a training run with matplotlib: learning curves, parity plots, ROC curves.

Each function takes plain tables or arrays and writes one PNG. Figures are made with
``matplotlib.figure.Figure`` and the Agg canvas directly (never ``pyplot``), so they work
headless and leave no global state. :mod:`cgt.cli.report` reads a run directory and calls them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "epoch_table",
    "learning_curves",
    "parity_plot",
    "regression_scores",
    "roc_curve",
    "roc_plot",
]

_DPI = 100
#: Most panels in one row of the per-target figures (parity plots, ROC curves).
_PANELS_PER_ROW = 6


def epoch_table(logs: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One row per epoch from Lightning ``CSVLogger`` tables (one per launch, in order).

    Rows logged per step are dropped from the epoch values; the learning rate, logged at the
    start of each epoch with an empty ``epoch``, goes to the epoch of the next rows. A later
    launch (a resumed run) overrides the epochs it repeats.

    Returns:
        A table indexed by ``epoch`` with the epoch-level columns (``train_loss_epoch``,
        ``val_loss``, ``val_mae``, ``lr-AdamW``, ...); empty when nothing was logged.
    """
    parts = []
    for table in logs:
        if "epoch" not in table or "step" not in table or table.empty:
            continue
        table = table.copy()
        lr_columns = [c for c in table.columns if c.startswith("lr-")]
        with_epoch = table[table["epoch"].notna()].sort_values("step", kind="stable")
        no_epoch = table[table["epoch"].isna()].sort_values("step", kind="stable")
        if lr_columns and not no_epoch.empty and not with_epoch.empty:
            located = pd.merge_asof(
                no_epoch.drop(columns="epoch"),
                with_epoch[["step", "epoch"]],
                on="step",
                direction="forward",
            )
            with_epoch = pd.concat([with_epoch, located[located["epoch"].notna()]])
        parts.append(with_epoch)
    if not parts:
        return pd.DataFrame(index=pd.Index([], name="epoch"))
    table = pd.concat(parts, ignore_index=True)
    table["epoch"] = table["epoch"].astype(int)
    step_columns = [c for c in table.columns if c.endswith("_step")]
    table = table.drop(columns=[*step_columns, "step"])
    return table.groupby("epoch").last().dropna(axis=1, how="all")


def learning_curves(
    epochs: pd.DataFrame,
    path: str | os.PathLike,
    monitor: str | None = None,
    best_epoch: int | None = None,
    title: str = "",
) -> Path:
    """Training loss and validation metrics per epoch, and the learning rate.

    Args:
        epochs: :func:`epoch_table`'s table.
        path: the PNG to write.
        monitor: the metric that chose the best checkpoint (``val_mae``, ``val_loss``).
        best_epoch: the best checkpoint's epoch, marked on every panel.
        title: a title over the figure (e.g. the run directory).
    """
    losses = [c for c in ("train_loss_epoch", "val_loss") if c in epochs]
    metrics = [
        c
        for c in epochs.columns
        if c.startswith("val_") and c != "val_loss" and not c.startswith("val_loss")
    ]
    lr = [c for c in epochs.columns if c.startswith("lr-")]
    panels = [p for p in (losses, metrics, lr) if p]
    if not panels:
        raise ValueError("no epoch-level training or validation values were logged")
    fig = Figure(figsize=(4.6 * len(panels), 3.9), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    names = {
        "train_loss_epoch": "training loss",
        "val_loss": "validation loss",
        "val_mae": "validation MAE",
        "val_rmse": "validation RMSE",
        "val_auroc": "validation AUROC",
    }
    for ax, columns in zip(axes, panels, strict=True):
        for column in columns:
            series = epochs[column].dropna()
            label = "learning rate" if column.startswith("lr-") else names.get(column, column)
            ax.plot(series.index, series.to_numpy(), marker="o", markersize=3, label=label)
            if column == monitor and best_epoch is not None and best_epoch in series.index:
                value = float(series.loc[best_epoch])
                ax.plot(
                    [best_epoch],
                    [value],
                    marker="*",
                    markersize=14,
                    color="crimson",
                    linestyle="none",
                    label=f"best: epoch {best_epoch}, {value:.4g}",
                )
        if best_epoch is not None:
            ax.axvline(best_epoch, color="crimson", linestyle="--", linewidth=0.8, alpha=0.6)
        ax.set_xlabel("epoch")
        if columns is lr:
            ax.set_ylabel("learning rate")
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        elif columns is losses:
            ax.set_ylabel("loss (training objective)")
        else:
            ax.set_ylabel("validation metric")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def regression_scores(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R² of one target (missing true values ignored) and the count ``n``."""
    known = np.isfinite(true) & np.isfinite(pred)
    t, p = true[known], pred[known]
    if t.size == 0:
        return {"mae": np.nan, "rmse": np.nan, "r2": np.nan, "n": 0}
    error = p - t
    total = ((t - t.mean()) ** 2).sum()
    r2 = 1 - (error**2).sum() / total if total > 0 else np.nan
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "r2": float(r2),
        "n": int(t.size),
    }


def parity_plot(
    true: np.ndarray,
    pred: np.ndarray,
    target_names: Sequence[str],
    path: str | os.PathLike,
    split: str = "test",
    units: dict[str, str] | None = None,
    note: str = "",
) -> Path:
    """Predicted against true values, one panel per target, with the identity line and
    MAE / RMSE / R² in each panel's title.

    Args:
        true, pred: ``[n, T]`` (NaN: a missing true value, left out).
        target_names: ``T`` names (axis labels).
        path: the PNG to write.
        split: the split's name, for the titles.
        units: optional units per target name, added to the axis labels.
        note: a line under the figure's title (e.g. which checkpoint).
    """
    true, pred = _columns(true), _columns(pred)
    fig, axes = _panels(len(target_names))
    for k, (ax, name) in enumerate(zip(axes, target_names, strict=True)):
        scores = regression_scores(true[:, k], pred[:, k])
        known = np.isfinite(true[:, k]) & np.isfinite(pred[:, k])
        t, p = true[known, k], pred[known, k]
        ax.scatter(t, p, s=9, alpha=0.5, edgecolors="none")
        if t.size:
            low, high = min(t.min(), p.min()), max(t.max(), p.max())
            pad = 0.04 * (high - low or 1.0)
            low, high = low - pad, high + pad
            ax.plot([low, high], [low, high], color="black", linewidth=0.8, label="y = x")
            ax.set_xlim(low, high)
            ax.set_ylim(low, high)
            ax.legend(fontsize=8, loc="upper left")
        ax.set_aspect("equal", adjustable="box")
        unit = f" ({units[name]})" if units and units.get(name) else ""
        ax.set_xlabel(f"true {name}{unit}")
        ax.set_ylabel(f"predicted {name}{unit}")
        ax.set_title(
            f"{name}, {split} (n = {scores['n']})\nMAE {scores['mae']:.3g}   "
            f"RMSE {scores['rmse']:.3g}   R² {scores['r2']:.3f}",
            fontsize=10,
        )
        ax.grid(alpha=0.3)
    if note:
        fig.suptitle(note, fontsize=9)
    return _save(fig, path)


def roc_curve(true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """False and true positive rates over every threshold, and the area under the curve.

    Missing labels (NaN) are left out; the AUROC is NaN unless both classes occur.
    """
    known = np.isfinite(true) & np.isfinite(score)
    y, s = true[known] > 0.5, score[known]
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0]), float("nan")
    order = np.argsort(-s, kind="stable")
    y, s = y[order], s[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    tpr = np.r_[0.0, tps / positives]
    fpr = np.r_[0.0, fps / negatives]
    return fpr, tpr, float((np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2).sum())


def roc_plot(
    true: np.ndarray,
    score: np.ndarray,
    target_names: Sequence[str],
    path: str | os.PathLike,
    split: str = "test",
    note: str = "",
) -> Path:
    """ROC curves (one panel per target) with the AUROC in each title."""
    true, score = _columns(true), _columns(score)
    fig, axes = _panels(len(target_names))
    for k, (ax, name) in enumerate(zip(axes, target_names, strict=True)):
        fpr, tpr, auroc = roc_curve(true[:, k], score[:, k])
        known = np.isfinite(true[:, k])
        positives = int((true[known, k] > 0.5).sum())
        ax.plot(fpr, tpr, linewidth=1.5, label=f"AUROC {auroc:.3f}")
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="chance")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel(f"true positive rate ({name})")
        ax.set_title(
            f"{name}, {split}: AUROC {auroc:.3f}\n(n = {int(known.sum())}, {positives} positive)",
            fontsize=10,
        )
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    if note:
        fig.suptitle(note, fontsize=9)
    return _save(fig, path)


def _panels(count: int) -> tuple[Figure, list]:
    """A figure of ``count`` square panels, at most :data:`_PANELS_PER_ROW` to a row (a
    model of 186 descriptors would otherwise draw one strip 80,000 pixels wide); the axes
    in reading order, the unused cells of the last row hidden."""
    columns = min(count, _PANELS_PER_ROW)
    rows = -(-count // columns)
    fig = Figure(figsize=(4.4 * columns, 4.6 * rows), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False).ravel().tolist()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def _columns(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[:, None] if values.ndim == 1 else values


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    fig.savefig(path, format="png", bbox_inches="tight", pad_inches=0.15)
    return path
