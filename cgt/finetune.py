"""Fine-tuning: a new CGT started from the weights of a trained one, and frozen layers.

:func:`init_from_checkpoint` copies a cgt checkpoint's encoders and CGT layers (parameters
and BatchNorm statistics) into a freshly built :class:`~cgt.model.CGT` of the same
architecture, and its head too when it was trained for the same targets and task (otherwise
the head keeps its fresh initialisation). :func:`frozen_modules` names what
``freeze_layers=K`` keeps fixed: the encoders and the first ``K`` CGT layers.
``CGTModule(init_from=..., freeze_layers=...)`` (:mod:`cgt.system`) uses both.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from cgt.checkpoint import check_vocabulary, load_weights, plain, read_checkpoint
from cgt.model import CGT
from cgt.pretrained_models import resolve_checkpoint

__all__ = ["ARCHITECTURE", "frozen_modules", "init_from_checkpoint"]

#: ``model_config`` entries that shape the weights of the encoders and CGT layers; the
#: others (pooling, dropouts, backend) hold no weights and may differ.
ARCHITECTURE = (
    "channels",
    "layers",
    "heads",
    "steps",
    "ring",
    "node_field",
    "node_feature_sizes",
    "bond_feature_sizes",
)

#: Prefix of the head's entries in the model's ``state_dict``.
_HEAD = "head."


def init_from_checkpoint(
    model: CGT,
    source: str | os.PathLike,
    featurizer: str,
    target_names: Sequence[str],
    task: str,
) -> bool:
    """Loads the weights of the checkpoint ``source`` into ``model`` (in place) and logs
    what was loaded.

    Args:
        model: the new model; its architecture must be the checkpoint's.
        source: a cgt checkpoint path or the name of a pretrained model
            (:func:`cgt.pretrained`); read weights-only, so it runs no code.
        featurizer: the featurizer of the new model's data; must be the checkpoint's.
        target_names, task: the new model's targets; the head is loaded only when both
            equal the checkpoint's.

    Returns:
        Whether the head was loaded (``False``: it keeps its fresh initialisation).

    Raises:
        FileNotFoundError: ``source`` is neither a file nor a pretrained model's name.
        CheckpointError: not a readable cgt checkpoint (or a corrupt pretrained file), a
            featurizer vocabulary that changed since, or weights that do not fit.
        ValueError: another featurizer, or another architecture (the message gives the
            ``--model.X VALUE`` options that build the checkpoint's).
    """
    path = resolve_checkpoint(source)
    info, state_dict = read_checkpoint(path)
    if info.featurizer != featurizer:
        raise ValueError(
            f"init_from {source}: {path} was trained with featurizer {info.featurizer!r}, "
            f"but this model's data uses featurizer {featurizer!r}; the atom features would "
            "mean something else (use data with the checkpoint's featurizer)"
        )
    check_vocabulary(info)
    mismatches = _architecture_mismatches(info.model_config, model.config)
    if mismatches:
        raise ValueError(
            f"init_from {source}: {path} holds another architecture than this model:\n  "
            + "\n  ".join(mismatches)
        )
    load_head = list(info.target_names) == list(target_names) and info.task == task
    load_weights(model, state_dict, path, skip=None if load_head else _HEAD)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = "encoders, CGT layers and head" if load_head else "encoders and CGT layers"
    rank_zero_info(f"init_from {source}: loaded {loaded} from {path} (sha256 {digest[:12]})")
    if not load_head:
        rank_zero_info(
            f"init_from {source}: head re-initialised: checkpoint targets "
            f"{list(info.target_names)} ({info.task}) vs {list(target_names)} ({task})"
        )
    return load_head


def frozen_modules(model: CGT, freeze_layers: int) -> list[nn.Module]:
    """What ``freeze_layers`` keeps fixed: nothing for 0, else the node and pair encoders
    and the first ``freeze_layers`` CGT layers.

    Raises:
        ValueError: ``freeze_layers`` is not in ``[0, number of layers]``.
    """
    if not 0 <= freeze_layers <= len(model.layers):
        raise ValueError(
            f"freeze_layers must be between 0 and the model's {len(model.layers)} layers, "
            f"got {freeze_layers}"
        )
    if freeze_layers == 0:
        return []
    return [model.node_encoder, model.pair_encoder, *model.layers[:freeze_layers]]


def _architecture_mismatches(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One line per :data:`ARCHITECTURE` entry that differs, with the option that fixes it."""
    lines = []
    for key in ARCHITECTURE:
        want, have = plain(saved.get(key)), plain(current.get(key))
        if want == have:
            continue
        if key in ("node_field", "node_feature_sizes", "bond_feature_sizes"):
            fix = "set by the featurizer"
        else:
            fix = f"use --model.{key} {want}"
        lines.append(f"{key}: checkpoint {want}, this model {have} ({fix})")
    return lines

