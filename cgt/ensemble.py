"""Ensembles of checkpoints: the manifest ``ensemble.json`` and which checkpoints go together.

An ensemble run (``python -m cgt.train --config X --ensemble N``) trains N members that
differ in seed, each in ``RUN_DIR/member_k/``, and writes ``RUN_DIR/ensemble.json``::

    {
      "members": ["member_0/checkpoints/best.ckpt", ...],   # relative to RUN_DIR
      "seeds": [0, 1, ...],
      "target_names": ["logS"], "task": "regression", "featurizer": "atom",
      "calibration": {"std_scale": [...], ...} or null   # cgt.calibration, fitted on val
    }

:func:`ensemble_sources` turns whatever names an ensemble (a run directory with a manifest,
or a list of checkpoints) into checkpoint paths and the calibration; :func:`check_members`
refuses checkpoints that were not trained for the same targets, task and featurizer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cgt.checkpoint import CheckpointError, CheckpointInfo, validate_calibration

__all__ = [
    "MANIFEST",
    "EnsembleSource",
    "check_members",
    "ensemble_sources",
    "is_ensemble_dir",
    "member_dir",
    "write_manifest",
]

#: File name of the manifest in an ensemble's run directory.
MANIFEST = "ensemble.json"


@dataclass(frozen=True)
class EnsembleSource:
    """The checkpoints of an ensemble and the calibration of their spread (or ``None``)."""

    checkpoints: list[Path]
    calibration: dict[str, Any] | None
    manifest: Path | None


def member_dir(run_dir: str | os.PathLike, k: int) -> Path:
    """The run directory of member ``k`` of the ensemble in ``run_dir``."""
    return Path(run_dir) / f"member_{k}"


def is_ensemble_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory holding an ensemble manifest."""
    return Path(path, MANIFEST).is_file()


def ensemble_sources(path: str | os.PathLike | Sequence[str | os.PathLike]) -> EnsembleSource:
    """The checkpoints named by a run directory with ``ensemble.json`` or by a list.

    Raises:
        CheckpointError: a directory without a manifest.
        FileNotFoundError: a checkpoint the manifest lists is missing.
        ValueError: an empty list, or a malformed manifest (the message names it).
    """
    if not isinstance(path, str | os.PathLike):
        checkpoints = [Path(p) for p in path]
        if not checkpoints:
            raise ValueError("an ensemble needs at least one checkpoint; the list is empty")
        return EnsembleSource(checkpoints, None, None)
    manifest = Path(path, MANIFEST)
    if not manifest.is_file():
        raise CheckpointError(
            f"{path} is a directory, not a checkpoint file, and has no {MANIFEST}: not an "
            "ensemble run either"
        )
    try:
        entry = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{manifest} cannot be read as JSON: {err}") from err
    members = entry.get("members") if isinstance(entry, dict) else None
    if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
        raise ValueError(f"{manifest}: 'members' must be a non-empty list of checkpoint paths")
    checkpoints = [manifest.parent / m for m in members]
    missing = [str(c) for c in checkpoints if not c.is_file()]
    if missing:
        raise FileNotFoundError(f"{manifest} lists checkpoints that do not exist: {missing}")
    calibration = entry.get("calibration")
    if calibration is not None:
        names = entry.get("target_names") or []
        calibration = validate_calibration(calibration, len(names), str(manifest))
    return EnsembleSource(checkpoints, calibration, manifest)


def check_members(infos: Sequence[CheckpointInfo]) -> None:
    """Refuses checkpoints that do not predict the same thing from the same inputs.

    Members must share the target names, the task and the featurizer (with its
    vocabulary); their weights, architectures and target normalisations may differ.

    Raises:
        ValueError: the first checkpoint that differs from the first one, and how.
    """
    first = infos[0]
    for info in infos[1:]:
        for field in ("target_names", "task", "featurizer", "vocabulary"):
            if getattr(info, field) != getattr(first, field):
                raise ValueError(
                    f"these checkpoints cannot form an ensemble: {info.path} has {field} "
                    f"{_short(getattr(info, field))} but {first.path} has "
                    f"{_short(getattr(first, field))} (members need the same targets, task "
                    "and featurizer)"
                )


def write_manifest(
    run_dir: str | os.PathLike,
    checkpoints: Sequence[str | os.PathLike],
    info: CheckpointInfo,
    calibration: Mapping[str, Any] | None,
    **details: Any,
) -> Path:
    """Writes ``run_dir/ensemble.json`` (checkpoint paths stored relative to ``run_dir``)."""
    run_dir = Path(run_dir)
    entry = {
        "members": [os.path.relpath(c, run_dir) for c in checkpoints],
        **details,
        "target_names": list(info.target_names),
        "task": info.task,
        "featurizer": info.featurizer,
        "calibration": None if calibration is None else dict(calibration),
    }
    path = run_dir / MANIFEST
    path.write_text(json.dumps(entry, indent=2) + "\n")
    return path


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
