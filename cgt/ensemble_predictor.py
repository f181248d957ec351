"""Prediction with an ensemble of checkpoints: the members' mean and spread.

:func:`cgt.load_model` returns an :class:`EnsemblePredictor` for a run directory with
``ensemble.json`` or a list of checkpoints. Each molecule is featurized once and each batch
goes through every member; ``predict`` gives, per target ``T``, the mean of the members'
predictions and ``T_std``, their standard deviation (over members, ``ddof=0``; for
classification, of the probabilities), scaled by the ensemble's calibration when the
manifest carries one.

Embeddings (:meth:`EnsemblePredictor.embed`) are one member's: each member learned its own
representation (its own axes), so the members' embeddings are not averaged; ``member=k``
chooses whose (default: the first).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import Batch

from cgt.ensemble import check_members, ensemble_sources
from cgt.explanation import Explanation
from cgt.inference import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ATOMS,
    DEFAULT_MAX_PAIRS,
    CGTPredictor,
    Featurized,
    load_checkpoint,
)

__all__ = ["EnsemblePredictor", "load_ensemble"]

_NO_EXPLANATION = (
    "an ensemble has no single explanation (its members' attention maps differ): explain one "
    "member, e.g. ensemble.members[0].explain(smiles)"
)


class EnsemblePredictor(CGTPredictor):
    """Several trained CGTs that predict together (usually made by :func:`load_ensemble`).

    It is a :class:`~cgt.inference.CGTPredictor` whose ``model`` is the first member's; the
    featurizer, targets and task are the members' (they must agree).

    Args:
        members: one predictor per member, on one device, with the same featurizer,
            target names and task.
        std_scale: the calibration factor of each target's spread, or ``None``.
    """

    def __init__(
        self, members: Sequence[CGTPredictor], std_scale: Sequence[float] | None = None
    ) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        for member in members[1:]:
            same = (member.featurizer, member.target_names, member.task, member.device)
            if same != (first.featurizer, first.target_names, first.task, first.device):
                raise ValueError(
                    f"ensemble members differ: {member!r} vs {first!r} (members need the same "
                    "featurizer, targets, task and device)"
                )
        super().__init__(
            first.model,
            featurizer=first.featurizer,
            target_names=first.target_names,
            task=first.task,
            target_mean=None if first._mean is None else first._mean.tolist(),
            target_std=None if first._std is None else first._std.tolist(),
            device=first.device,
            std_scale=std_scale,
        )
        self.members = list(members)

    @property
    def is_ensemble(self) -> bool:
        return True

    def num_samples(self, mc_dropout: int = 0) -> int:
        return len(self.members) * max(1, mc_dropout)

    def __repr__(self) -> str:
        return (
            f"EnsemblePredictor({len(self.members)} members, task={self.task!r}, "
            f"targets={self.target_names}, featurizer={self.featurizer!r}, "
            f"device={str(self.device)!r})"
        )

    def explain(self, smiles: str, target: str | int | None = None) -> Explanation:
        """Refused: explanations belong to one model (``ensemble.members[k].explain(...)``)."""
        raise ValueError(_NO_EXPLANATION)

    def explain_many(self, smiles, target: str | int | None = None) -> list[Explanation]:
        """Refused, as :meth:`explain`."""
        raise ValueError(_NO_EXPLANATION)

    def _member(self, member: int) -> CGTPredictor:
        """The predictor of member ``member`` (0-based; negative counted from the end).

        Raises:
            IndexError: no such member (the message gives the range).
        """
        count = len(self.members)
        if isinstance(member, bool) or not isinstance(member, int) or not -count <= member < count:
            raise IndexError(
                f"member {member!r} out of range: the ensemble has {count} members "
                f"(valid: {-count}..{count - 1})"
            )
        return self.members[member]

    def embed(
        self,
        smiles: str | Iterable[str],
        layer: int = -1,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool = False,
        max_atoms: int = DEFAULT_MAX_ATOMS,
        max_pairs: int = DEFAULT_MAX_PAIRS,
        numpy: bool = False,
        member: int = 0,
    ) -> pd.DataFrame | np.ndarray:
        """The embeddings of one member, ``member`` (0-based; default the first): the
        members' embeddings live in different spaces, so they are not averaged. Otherwise
        :meth:`CGTPredictor.embed <cgt.inference.CGTPredictor.embed>`.

        Raises:
            IndexError: no such member or layer (the message gives the range).
        """
        return self._member(member).embed(
            smiles, layer, batch_size, progress, max_atoms, max_pairs, numpy
        )

    def embed_featurized(
        self,
        smiles: Sequence[Any],
        featurized: Featurized,
        layer: int = -1,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_pairs: int = DEFAULT_MAX_PAIRS,
        member: int = 0,
    ) -> pd.DataFrame:
        """:meth:`embed` of inputs already featurized (one member's, as :meth:`embed`)."""
        return self._member(member).embed_featurized(
            smiles, featurized, layer, batch_size, max_pairs
        )

    def forward(self, batch: Batch) -> Tensor:
        """``[B, T]`` the members' mean prediction for a batch, in target units."""
        return self.samples(batch).mean(dim=0)

    def samples(self, batch: Batch, mc_dropout: int = 0) -> Tensor:
        """``[S, B, T]``: every member's predictions (``mc_dropout`` passes each if set),
        members in order."""
        return torch.cat([member.samples(batch, mc_dropout) for member in self.members])


def load_ensemble(
    path: str | os.PathLike | Sequence[str | os.PathLike], device: str | torch.device = "cpu"
) -> EnsemblePredictor:
    """Loads an ensemble for prediction.

    Args:
        path: a run directory with ``ensemble.json`` (its calibration is applied), or a
            list of checkpoints (no calibration).
        device: where the members run.

    Raises:
        FileNotFoundError: a checkpoint (listed, or in the manifest) does not exist.
        ValueError: the checkpoints were not trained for the same targets, task and
            featurizer (the message names the two that differ), or a malformed manifest.
        CheckpointError: a member is not a usable cgt checkpoint, or a directory has no
            ensemble.json.
    """
    source = ensemble_sources(path)
    members = [load_checkpoint(checkpoint, device) for checkpoint in source.checkpoints]
    check_members([member.checkpoint for member in members])
    scale = None if source.calibration is None else source.calibration["std_scale"]
    return EnsemblePredictor(members, std_scale=scale)
