"""Pretrained CGTs shipped with cgt: what there is (:func:`pretrained`) and where
(:func:`pretrained_path`), offline, with the files checked against their checksums.

Each model ``NAME`` is three files in the package folder ``cgt/weights/``:

- ``NAME.ckpt``: a normal cgt checkpoint (:mod:`cgt.checkpoint`, without optimiser state),
  so ``cgt.load_model("NAME")`` predicts with it and ``--model.init_from NAME`` fine-tunes it;
- ``NAME.json``: its metadata (below), written by ``scripts/pretrain.py`` step ``export``;
- ``NAME.md``: its card (how it was trained, what it is good for, its measured results).

``NAME.json`` holds exactly these fields (:data:`FIELDS`)::

    {
      "name": "zinc-descriptors-v1",  # the file names' stem; what `pretrained_path` takes
      "description": "...",           # one line: what the model predicts
      "training_data": "...",         # the molecules and labels it was trained on
      "featurizer": "atom",           # a cgt featurizer (cgt.data.get_featurizer)
      "task": "regression",           # or "classification"
      "targets": 150,                 # number of outputs (their names are in the checkpoint)
      "parameters": 400000,           # number of trainable parameters
      "bytes": 1600000,               # size of NAME.ckpt
      "sha256": "...",                # hex SHA-256 of NAME.ckpt
      "licence": "MIT",               # licence of the weights
      "cgt_version": "0.1.0",         # the cgt that wrote NAME.ckpt
      "command": "...",               # the command that rebuilds NAME.ckpt from scratch
      "model_config": {...},          # the checkpoint's model_config (CGT(**model_config))
      "metrics": {"val_r2_mean": ...},# measured results, name -> number
      "training": {...}               # how it was trained: epochs, best_epoch, data checksum, ...
    }

Nothing is ever downloaded: a model is usable when its files are in the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FIELDS",
    "WEIGHTS",
    "PretrainedModel",
    "PretrainedModels",
    "pretrained",
    "pretrained_path",
    "resolve_checkpoint",
]

#: The folder of the shipped models (package data).
WEIGHTS = Path(__file__).resolve().parent / "weights"

#: Fields of ``NAME.json`` and the type of each (see the module docstring).
FIELDS: dict[str, type] = {
    "name": str,
    "description": str,
    "training_data": str,
    "featurizer": str,
    "task": str,
    "targets": int,
    "parameters": int,
    "bytes": int,
    "sha256": str,
    "licence": str,
    "cgt_version": str,
    "command": str,
    "model_config": dict,
    "metrics": dict,
    "training": dict,
}

#: Name of each field type in JSON, for error messages.
_JSON_TYPES = {str: "string", int: "integer", dict: "object"}


@dataclass(frozen=True)
class PretrainedModel:
    """One shipped model: its ``NAME.json`` as attributes, and its files.

    Attributes:
        name, description, training_data, featurizer, task, targets, parameters, licence,
            cgt_version, command, model_config, metrics, training: the JSON fields.
        bytes, sha256: size and SHA-256 of the checkpoint, checked by :func:`pretrained_path`.
        checkpoint: path of ``NAME.ckpt`` (use :func:`pretrained_path` to get it checked).
        card: path of ``NAME.md``, or ``None`` if the card is missing.
    """

    name: str
    description: str
    training_data: str
    featurizer: str
    task: str
    targets: int
    parameters: int
    bytes: int
    sha256: str
    licence: str
    cgt_version: str
    command: str
    model_config: dict[str, Any] = field(hash=False)
    metrics: dict[str, float] = field(hash=False)
    training: dict[str, Any] = field(hash=False)
    checkpoint: Path = field(hash=False)
    card: Path | None = field(hash=False)

    def __repr__(self) -> str:
        return (
            f"PretrainedModel({self.name!r}, featurizer={self.featurizer!r}, "
            f"{self.targets} {self.task} targets, {self.parameters:,} parameters, "
            f"{self.bytes / 1e6:.1f} MB)"
        )

    def __str__(self) -> str:
        return f"{self.name}: {self.description}"


class PretrainedModels(list):
    """A list of :class:`PretrainedModel` that prints as a table (what :func:`pretrained`
    returns)."""

    #: Columns of the table: header and how each row's cell is made.
    COLUMNS = (
        ("name", lambda m: m.name),
        ("featurizer", lambda m: m.featurizer),
        ("targets", lambda m: f"{m.targets} ({m.task})"),
        ("parameters", lambda m: f"{m.parameters:,}"),
        ("size", lambda m: f"{m.bytes / 1e6:.1f} MB"),
        ("description", lambda m: m.description),
    )

    def __str__(self) -> str:
        if not self:
            return f"no pretrained models in {WEIGHTS}"
        rows = [[header for header, _ in self.COLUMNS]]
        rows += [[cell(model) for _, cell in self.COLUMNS] for model in self]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.COLUMNS))]
        return "\n".join(
            "  ".join(text.ljust(w) for text, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )

    __repr__ = __str__


def pretrained() -> PretrainedModels:
    """The pretrained models shipped in ``cgt/weights/``, sorted by name.

    Returns:
        A list of :class:`PretrainedModel` (printing it shows a table).

    Raises:
        ValueError: a ``NAME.json`` is malformed (the message names the file).
    """
    folder = WEIGHTS
    if not folder.is_dir():
        return PretrainedModels()
    return PretrainedModels(_read_metadata(path) for path in sorted(folder.glob("*.json")))


def pretrained_path(name: str) -> Path:
    """The checkpoint of the pretrained model ``name``, after checking its size and SHA-256
    against ``NAME.json``.

    Raises:
        ValueError: no model of that name (the message lists the available ones), or its
            ``NAME.json`` is malformed.
        FileNotFoundError: the checkpoint is missing.
        CheckpointError: the checkpoint's size or checksum differs from ``NAME.json``
            (a truncated or corrupt file); the message names the file.
    """
    model = _find(name)
    if model is None:
        names = ", ".join(m.name for m in pretrained()) or "none"
        raise ValueError(f"no pretrained model named {name!r}; available: {names}")
    path = model.checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"pretrained model {name!r}: its checkpoint {path} is missing")
    from cgt.checkpoint import CheckpointError  # needs torch; listing the models does not

    size = path.stat().st_size
    if size != model.bytes:
        raise CheckpointError(
            f"{path} is {size} bytes, but {name}.json says {model.bytes}: the file is "
            "truncated or corrupt; reinstall cgt or rebuild it with its command"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != model.sha256:
        raise CheckpointError(
            f"{path} has SHA-256 {digest[:12]}..., but {name}.json says {model.sha256[:12]}...: "
            "the file is corrupt; reinstall cgt or rebuild it with its command"
        )
    return path


def resolve_checkpoint(path_or_name: str | os.PathLike) -> Path:
    """A checkpoint path from a path or a pretrained model's name: an existing path, or one
    that does not exist but is the name of a pretrained model (:func:`pretrained_path`,
    checked), so ``cgt.load_model("NAME")`` and ``--checkpoint NAME`` find the model.

    Raises:
        FileNotFoundError: neither (the message lists the pretrained names).
        CheckpointError, ValueError: see :func:`pretrained_path`.
    """
    text = os.fspath(path_or_name)
    if os.path.exists(text):
        return Path(text)
    if _find(text) is not None:
        return pretrained_path(text)
    names = ", ".join(m.name for m in pretrained()) or "none installed"
    raise FileNotFoundError(
        f"checkpoint {text} does not exist, and it is not the name of a pretrained model "
        f"either (pretrained: {names})"
    )


def _find(name: str) -> PretrainedModel | None:
    """The model ``name``, or ``None`` (only names of the folder's JSON files are read)."""
    if not name or "/" in name or os.sep in name or name.startswith("."):
        return None
    path = WEIGHTS / f"{name}.json"
    return _read_metadata(path) if path.is_file() else None


def _read_metadata(path: Path) -> PretrainedModel:
    """``NAME.json`` checked field by field, as a :class:`PretrainedModel`."""

    def fail(reason: str) -> ValueError:
        return ValueError(f"{path} is not valid pretrained-model metadata: {reason}")

    try:
        entry = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise fail(str(err)) from None
    if not isinstance(entry, Mapping):
        raise fail(f"a JSON {type(entry).__name__}, not an object")
    missing = [key for key in FIELDS if key not in entry]
    unknown = sorted(set(entry) - set(FIELDS))
    if missing or unknown:
        raise fail(f"missing fields {missing}, unknown fields {unknown}")
    for key, kind in FIELDS.items():
        value = entry[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise fail(f"{key!r} must be a JSON {_JSON_TYPES[kind]}, got {value!r}")
    if entry["name"] != path.stem:
        raise fail(f"'name' is {entry['name']!r} but the file is {path.name}")
    card = path.with_suffix(".md")
    return PretrainedModel(
        **entry, checkpoint=path.with_suffix(".ckpt"), card=card if card.is_file() else None
    )
