"""Checkpoints written atomically (a killed run never leaves a half-written file behind) and
read safely (resuming and testing unpickle no code: ``weights_only=True``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from cgt.checkpoint import CheckpointError

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning ``CheckpointIO`` that writes each checkpoint to a temporary file in the
    target directory and then moves it over the target with ``os.replace`` (atomic on
    POSIX and Windows), so the target is always either the old or the new checkpoint."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        os.close(handle)
        try:
            super().save_checkpoint(checkpoint, temporary, storage_options)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def load_checkpoint(
        self, path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Reads a checkpoint to resume or test from with ``weights_only=True`` whatever the
        caller asks (a crafted pickle executes nothing); any failure is a
        :class:`~cgt.checkpoint.CheckpointError` that names the file."""
        path = Path(path)
        if path.is_dir():
            raise CheckpointError(f"{path} is a directory, not a checkpoint file")
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        try:
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as err:  # truncated, foreign, or a pickle that wants to run code
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CheckpointError(
                f"{path} cannot be read as a cgt checkpoint (truncated, corrupt, not a "
                f"PyTorch checkpoint, or holding objects other than tensors and plain data): "
                f"{reason}"
            ) from err
        if not isinstance(checkpoint, dict) or "cgt" not in checkpoint:
            raise CheckpointError(
                f"{path} is a PyTorch file but not a cgt checkpoint (it has no 'cgt' entry)"
            )
        return checkpoint
