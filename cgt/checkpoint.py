"""The cgt checkpoint contract: what a checkpoint holds, written, read, and made a model.

A cgt checkpoint is a Lightning checkpoint (``torch.save`` of a dict) whose ``"cgt"`` entry
carries everything inference needs, made by :func:`checkpoint_metadata` (called by
``CGTModule.on_save_checkpoint``)::

    checkpoint["cgt"] = {
        "schema_version": 3,          # this file's layout; bumped on incompatible changes
        "cgt_version": "0.1.0",       # the package that wrote it
        "featurizer": "zinc",         # name passed to cgt.data.featurize_smiles
        "vocabulary": ...,            # what the featurizer's categories meant at training time
        "target_names": ["y"],
        "task": "regression",         # or "classification"
        "target_mean": [...],         # regression normalisation (train split), or None
        "target_std": [...],
        "model_config": {...},        # keyword arguments that rebuild the nn.Module alone
        "config": {...},              # the resolved training configuration
        "calibration": {...},         # optional: the fitted scale of predicted stds
    }

``"calibration"`` (optional, added after training by :func:`write_calibration`) holds the
z-score scaling of the model's Monte Carlo dropout spread fitted on the validation split
(:mod:`cgt.calibration`): ``{"std_scale": [one factor per target], ...}``; checkpoints
without it load as before.

Schema 1 (cgt 0.1.0) named the featurizer inside ``model_config``; schema 2 gives the model
what it reads (``node_field``, ``node_feature_sizes``, ``bond_feature_sizes``) and embeds the
ZINC atom type like any other categorical column. Schema 3 changed what
``ring="paper"`` means (chordless cycles, as in the paper's code, instead of RDKit's SSSR
rings, now ``ring="sssr"``). :func:`read_checkpoint` upgrades older files on reading (a
schema-1 or -2 model with ``ring="paper"`` reads as ``ring="sssr"``, what it was trained
with), so every checkpoint ever written by cgt still loads and predicts as it did.

plus Lightning's usual ``state_dict``, where the model's parameters carry the prefix
``"model."`` (``CGTModule.model``). :func:`read_checkpoint` loads such a file and checks it;
anything else (not a PyTorch file, a truncated or corrupt file, a PyTorch file without the
``"cgt"`` entry, a newer schema, missing or malformed keys) raises :class:`CheckpointError`
with a message that names the file. :func:`model_from_checkpoint` also rebuilds the model
and loads its weights, refusing a featurizer whose vocabulary changed since training.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from cgt.model import CGT
from cgt.targets import TASKS
from cgt.version import __version__

__all__ = [
    "REQUIRED_KEYS",
    "SCHEMA_VERSION",
    "CheckpointError",
    "CheckpointInfo",
    "check_vocabulary",
    "checkpoint_metadata",
    "load_weights",
    "model_from_checkpoint",
    "plain",
    "read_checkpoint",
    "validate_calibration",
    "write_calibration",
]

#: Version of the ``checkpoint["cgt"]`` layout that this cgt writes (and the newest it reads).
SCHEMA_VERSION = 3
#: Keys of the ``checkpoint["cgt"]`` entry.
REQUIRED_KEYS = (
    "schema_version",
    "cgt_version",
    "featurizer",
    "vocabulary",
    "target_names",
    "task",
    "target_mean",
    "target_std",
    "model_config",
    "config",
)

#: Prefix of the model's parameters in a checkpoint's ``state_dict`` (``CGTModule.model``).
_STATE_PREFIX = "model."


class CheckpointError(ValueError):
    """A file is not a usable cgt checkpoint; the message names the file and the reason."""


@dataclass(frozen=True)
class CheckpointInfo:
    """The validated ``"cgt"`` entry of a checkpoint (see the module docstring)."""

    path: Path
    schema_version: int
    cgt_version: str
    featurizer: str
    vocabulary: Any
    target_names: tuple[str, ...]
    task: str
    target_mean: tuple[float, ...] | None
    target_std: tuple[float, ...] | None
    model_config: dict[str, Any]
    config: dict[str, Any]
    calibration: dict[str, Any] | None = None


def checkpoint_metadata(
    *,
    featurizer: str,
    target_names: Sequence[str],
    task: str,
    target_mean: Sequence[float] | None,
    target_std: Sequence[float] | None,
    model_config: Mapping[str, Any],
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``checkpoint["cgt"]`` entry of a model trained with these settings.

    Adds the schema version, this cgt's version and the featurizer's current vocabulary.

    Args:
        featurizer: name of the featurizer the model was trained with.
        target_names: one name per model output.
        task: ``"regression"`` or ``"classification"``.
        target_mean, target_std: the regression normalisation, one number per target
            (or ``None``).
        model_config: keyword arguments that rebuild the model (``CGT(**model_config)``).
        config: the resolved training configuration.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "cgt_version": __version__,
        "featurizer": featurizer,
        "vocabulary": _current_vocabulary(featurizer),
        "target_names": list(target_names),
        "task": task,
        "target_mean": None if target_mean is None else list(target_mean),
        "target_std": None if target_std is None else list(target_std),
        "model_config": dict(model_config),
        "config": dict(config),
    }


def read_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[CheckpointInfo, dict[str, torch.Tensor]]:
    """Load a cgt checkpoint and validate its ``"cgt"`` entry.

    Args:
        path: the checkpoint file (``best.ckpt``, ``last.ckpt``, ...).
        map_location: where tensors are loaded; ``"cpu"`` (default) loads a GPU-trained
            checkpoint on a machine without a GPU.

    Returns:
        ``(info, state_dict)``: the validated metadata and Lightning's ``state_dict``
        (parameter names as in the LightningModule), both in the current schema (a
        schema-1 or -2 file is upgraded; ``info.schema_version`` says what the file held).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is not a readable cgt checkpoint of a supported schema.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (or is not a file)")
    raw = _load(path, map_location)
    if not isinstance(raw, dict) or "cgt" not in raw:
        raise CheckpointError(
            f"{path} is a PyTorch file but not a cgt checkpoint: it has no 'cgt' entry "
            "(checkpoints written by `python -m cgt.train` have one)"
        )
    info = _validate(path, raw["cgt"])
    state_dict = raw.get("state_dict")
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointError(f"{path} is a cgt checkpoint without model weights ('state_dict')")
    if info.schema_version == 1:
        info, state_dict = _from_schema_1(info, state_dict)
    if info.schema_version <= 2:
        info = _from_schema_2(info)
    return info, state_dict


def _from_schema_2(info: CheckpointInfo) -> CheckpointInfo:
    """A schema-1 or -2 checkpoint in today's terms: its ``"paper"`` ring feature was built
    from RDKit's SSSR rings, today's ``"sssr"``."""
    config = dict(info.model_config)
    if config.get("ring", "paper") == "paper":
        config["ring"] = "sssr"
    return replace(info, model_config=config)


def _from_schema_1(
    info: CheckpointInfo, state_dict: dict[str, torch.Tensor]
) -> tuple[CheckpointInfo, dict[str, torch.Tensor]]:
    """A schema-1 checkpoint in today's terms: the featurizer name in ``model_config``
    becomes the inputs it stood for, and the single ZINC atom-type embedding becomes the
    first (only) column of the categorical node embedding."""
    config = dict(info.model_config)
    featurizer = config.pop("featurizer", "zinc")
    num_atom_types = config.pop("num_atom_types", 28)
    atom_feature_sizes = config.pop("atom_feature_sizes", None)
    if featurizer == "zinc":
        config.update(node_field="atom_type", node_feature_sizes=[num_atom_types])
        config["bond_feature_sizes"] = None
        old = f"{_STATE_PREFIX}node_encoder.atom.weight"
        new = f"{_STATE_PREFIX}node_encoder.atom.embeddings.0.weight"
        state_dict = {new if key == old else key: value for key, value in state_dict.items()}
    else:
        config.update(node_field="x", node_feature_sizes=atom_feature_sizes)
    return replace(info, model_config=config), state_dict


def _load(path: Path, map_location: str | torch.device) -> Any:
    """``torch.load`` with every failure turned into a :class:`CheckpointError` naming ``path``."""
    if not zipfile.is_zipfile(path):
        size = path.stat().st_size
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint ({size} bytes, not a torch.save zip archive; "
            "a truncated or partly copied file looks like this too)"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # a corrupt archive can fail in many ways (zip, pickle, unicode)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path} could not be read as a PyTorch checkpoint (corrupt or truncated?): {reason}"
        ) from err


def _validate(path: Path, entry: Any) -> CheckpointInfo:
    """Check the ``"cgt"`` entry key by key; raise :class:`CheckpointError` on the first problem."""

    def fail(reason: str) -> CheckpointError:
        return CheckpointError(f"{path} is not a valid cgt checkpoint: {reason}")

    if not isinstance(entry, dict):
        raise fail(f"its 'cgt' entry is a {type(entry).__name__}, not a dict")
    version = entry.get("schema_version")
    if not isinstance(version, int):
        raise fail("its 'cgt' entry has no integer 'schema_version'")
    if version > SCHEMA_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint schema version {version}, newer than this cgt "
            f"understands ({SCHEMA_VERSION}); it was written by cgt {entry.get('cgt_version')}: "
            "upgrade cgt to read it"
        )
    if version < 1:
        raise fail(f"unknown schema version {version}")
    missing = [key for key in REQUIRED_KEYS if key not in entry]
    if missing:
        raise fail(f"its 'cgt' entry lacks {', '.join(missing)}")

    names = entry["target_names"]
    if (
        not isinstance(names, list | tuple)
        or not names
        or not all(isinstance(n, str) and n for n in names)
    ):
        raise fail(f"'target_names' must be a non-empty list of names, got {names!r}")
    if len(set(names)) != len(names):
        raise fail(f"'target_names' has duplicates: {names!r}")
    if entry["task"] not in TASKS:
        raise fail(f"'task' is {entry['task']!r}, expected one of {TASKS}")
    if not isinstance(entry["featurizer"], str) or not entry["featurizer"]:
        raise fail(f"'featurizer' must be a featurizer name, got {entry['featurizer']!r}")
    if not isinstance(entry["model_config"], dict):
        raise fail("'model_config' must be a dict of keyword arguments")
    if not isinstance(entry["config"], dict):
        raise fail("'config' must be a dict")

    mean = _stats(entry["target_mean"], len(names), "target_mean", fail)
    std = _stats(entry["target_std"], len(names), "target_std", fail)
    if (mean is None) != (std is None):
        raise fail("'target_mean' and 'target_std' must be both set or both None")
    if std is not None and not all(s > 0 for s in std):
        raise fail(f"'target_std' must be positive, got {list(std)}")
    if entry["task"] == "regression" and mean is None:
        raise fail("a regression checkpoint needs 'target_mean' and 'target_std'")

    return CheckpointInfo(
        path=path,
        schema_version=version,
        cgt_version=str(entry["cgt_version"]),
        featurizer=entry["featurizer"],
        vocabulary=entry["vocabulary"],
        target_names=tuple(names),
        task=entry["task"],
        target_mean=mean,
        target_std=std,
        model_config=dict(entry["model_config"]),
        config=dict(entry["config"]),
        calibration=_calibration(entry.get("calibration"), len(names), fail),
    )


def validate_calibration(calibration: Any, num_targets: int, source: str) -> dict[str, Any]:
    """A calibration entry checked: a dict whose ``"std_scale"`` holds one positive finite
    factor per target.

    Raises:
        ValueError: anything else; the message names ``source``.
    """

    def fail(reason: str) -> ValueError:
        return ValueError(f"{source}: invalid calibration: {reason}")

    return _calibration(calibration, num_targets, fail)


def _calibration(value: Any, count: int, fail) -> dict[str, Any] | None:
    """``None`` or a calibration dict whose ``std_scale`` holds ``count`` positive floats."""
    if value is None:
        return None
    if not isinstance(value, dict) or "std_scale" not in value:
        raise fail(f"'calibration' must be a dict with 'std_scale', got {value!r}")
    scale = _stats(value["std_scale"], count, "calibration.std_scale", fail)
    if not all(s > 0 for s in scale):
        raise fail(f"'calibration.std_scale' must be positive, got {list(scale)}")
    return {**value, "std_scale": list(scale)}


def write_calibration(path: str | os.PathLike, calibration: Mapping[str, Any]) -> None:
    """Stores ``calibration`` as the ``"calibration"`` entry of the checkpoint at ``path``
    (replacing any previous one), writing a temporary file then renaming it over ``path``.

    Raises:
        FileNotFoundError, CheckpointError: ``path`` is not a readable cgt checkpoint.
        ValueError: ``calibration`` is malformed for this checkpoint's targets.
    """
    path = Path(path)
    info, _ = read_checkpoint(path)
    entry = validate_calibration(dict(calibration), len(info.target_names), str(path))
    raw = _load(path, "cpu")
    raw["cgt"]["calibration"] = entry
    partial = path.with_name(path.name + ".partial")
    torch.save(raw, partial)
    os.replace(partial, path)


def _stats(value: Any, count: int, key: str, fail) -> tuple[float, ...] | None:
    """``None`` or a tuple of ``count`` finite floats (from a list or a tensor)."""
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.flatten().tolist()
    if not isinstance(value, list | tuple) or len(value) != count:
        raise fail(f"'{key}' must hold one number per target ({count}), got {value!r}")
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise fail(f"'{key}' must hold numbers, got {value!r}") from None
    if not all(math.isfinite(v) for v in numbers):
        raise fail(f"'{key}' must be finite, got {list(numbers)}")
    return numbers


def model_from_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[CGT, CheckpointInfo]:
    """Read a cgt checkpoint and rebuild its model with the trained weights.

    Args:
        path: the checkpoint file.
        map_location: where tensors are loaded (see :func:`read_checkpoint`); the model
            itself is built on the CPU.

    Returns:
        ``(model, info)``: the :class:`cgt.model.CGT` in training mode, with the attention
        backend ``"auto"`` (a runtime choice, not a property of the weights), and the
        validated metadata.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: everything :func:`read_checkpoint` refuses, and a featurizer this
            cgt does not know or whose vocabulary changed, a ``model_config`` this cgt cannot
            build, or weights that do not fit it. The message names the file.
    """
    info, state_dict = read_checkpoint(path, map_location=map_location)
    check_vocabulary(info)
    # The attention backend is a runtime choice (a GPU-only kernel may have been forced for
    # training), not a property of the weights: "auto" picks what runs on this device.
    config = {**info.model_config, "backend": "auto"}
    try:
        model = CGT(**config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(
            f"{info.path} has a model_config this cgt cannot build: {err}"
        ) from None
    load_weights(model, state_dict, info.path)
    return model, info


def _current_vocabulary(featurizer: str) -> Any:
    """What the featurizer's categorical codes mean in this cgt."""
    # Imported here: the featurizers need RDKit, reading a checkpoint does not.
    from cgt.data.featurizers import get_featurizer

    return get_featurizer(featurizer).vocabulary


def check_vocabulary(info: CheckpointInfo) -> None:
    """Refuses a checkpoint whose featurizer is unknown here or means something else now.

    Raises:
        CheckpointError: either; the message names the file.
    """
    try:
        current = _current_vocabulary(info.featurizer)
    except (KeyError, ValueError) as err:
        raise CheckpointError(
            f"{info.path} was trained with featurizer {info.featurizer!r}, which this cgt "
            f"does not have: {err}"
        ) from None
    if plain(current) != plain(info.vocabulary):
        raise CheckpointError(
            f"{info.path} was trained with a different vocabulary of featurizer "
            f"{info.featurizer!r} than this cgt's (checkpoint from cgt {info.cgt_version}); "
            "its categorical features would mean something else"
        )


def load_weights(
    model: CGT, state_dict: dict[str, torch.Tensor], path: Path, skip: str | None = None
) -> None:
    """Load the ``model.``-prefixed entries of ``state_dict`` into ``model``; they must match
    its parameters and buffers exactly, except those whose name (without the prefix) starts
    with ``skip`` (e.g. ``"head."``), which are neither loaded nor required.

    Raises:
        CheckpointError: a missing, unexpected or misshapen tensor; the message names ``path``.
    """

    def kept(key: str) -> bool:
        return skip is None or not key.startswith(skip)

    weights = {
        key[len(_STATE_PREFIX) :]: value
        for key, value in state_dict.items()
        if key.startswith(_STATE_PREFIX) and kept(key[len(_STATE_PREFIX) :])
    }
    try:
        problems = model.load_state_dict(weights, strict=False)
    except RuntimeError as err:  # a parameter of another shape
        detail = next((line.strip() for line in str(err).splitlines()[1:] if line.strip()), "")
        raise CheckpointError(
            f"{path}: the weights do not fit its model_config ({detail})"
        ) from None
    missing = [key for key in problems.missing_keys if kept(key)]
    if missing or problems.unexpected_keys:
        raise CheckpointError(
            f"{path}: the weights do not fit its model_config (missing: "
            f"{_few(missing)}; unexpected: {_few(problems.unexpected_keys)})"
        )


def plain(value: Any) -> Any:
    """Tuples as lists (also inside dicts and lists), so that configurations and vocabularies
    compare equal after a checkpoint round trip."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _few(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit]) or "none"
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
