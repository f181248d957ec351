"""What a model's outputs mean: the tasks, and outputs turned into target units.

A CGT predicts ``T`` numbers per molecule. For ``"regression"`` they are the targets
normalised with the training split's mean and standard deviation; for ``"classification"``
they are logits of class 1. The training system and the predictor both turn them into
target units with :func:`to_target_units`, so a checkpoint predicts what training measured.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["TASKS", "to_target_units"]

#: Accepted values of ``task``.
TASKS = ("regression", "classification")


def to_target_units(
    out: Tensor, task: str, mean: Tensor | None = None, std: Tensor | None = None
) -> Tensor:
    """Model outputs in target units.

    Args:
        out: ``[B, T]`` model outputs (normalised values or logits).
        task: ``"regression"`` or ``"classification"``.
        mean: ``[T]`` target means (regression only).
        std: ``[T]`` target standard deviations (regression only).

    Returns:
        ``[B, T]``: ``out * std + mean`` (regression) or ``sigmoid(out)``, the probability
        of class 1 (classification).

    Raises:
        ValueError: an unknown ``task``, or regression without ``mean`` and ``std``.
    """
    if task == "regression":
        if mean is None or std is None:
            raise ValueError("regression outputs need the target mean and std to be un-normalised")
        return out * std + mean
    if task == "classification":
        return torch.sigmoid(out)
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")
