"""On-disk cache of processed datasets: keyed by content, verified on load, written atomically.

A cache file is ``MAGIC + sha256(body) + body`` where ``body`` is ``torch.save`` of
``{"key": ..., "payload": ...}``. Loading checks the magic, the checksum and the key, so a
truncated, garbled or stale file is detected (and rebuilt by the caller), never trusted.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = ["cache_dir", "file_digest", "cache_key", "load_cache", "save_cache", "load_or_build"]

log = logging.getLogger(__name__)

MAGIC = b"CGT-CACHE-1\n"
FORMAT_VERSION = 1


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """Where processed datasets go: ``root``, else ``$CGT_CACHE_DIR``, else ``~/.cache/cgt``."""
    if root is not None:
        return Path(root)
    if os.environ.get("CGT_CACHE_DIR"):
        return Path(os.environ["CGT_CACHE_DIR"])
    return Path.home() / ".cache" / "cgt"


def file_digest(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(**parts: Any) -> str:
    """A stable hex key for JSON-serialisable parts (file digest, featurizer, options...)."""
    text = json.dumps({"format": FORMAT_VERSION, **parts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def load_cache(path: Path, key: str) -> Any | None:
    """The payload stored at ``path`` under ``key``; ``None`` if missing, stale or corrupt."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    header = len(MAGIC) + 32
    body = data[header:]
    if data[: len(MAGIC)] != MAGIC or hashlib.sha256(body).digest() != data[len(MAGIC) : header]:
        log.warning("cache file %s is corrupted; rebuilding it", path)
        return None
    try:
        stored = torch.load(io.BytesIO(body), weights_only=True)
    except Exception as error:  # a file with a valid checksum but unreadable content
        log.warning("cache file %s cannot be read (%s); rebuilding it", path, error)
        return None
    if stored.get("key") != key:
        log.info("cache file %s is stale; rebuilding it", path)
        return None
    return stored["payload"]


def save_cache(path: Path, key: str, payload: Any) -> None:
    """Writes ``payload`` atomically (temporary file + rename) under ``key``."""
    buffer = io.BytesIO()
    torch.save({"key": key, "payload": payload}, buffer)
    body = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(MAGIC + hashlib.sha256(body).digest() + body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_or_build(path: Path, key: str, build: Callable[[], Any]) -> Any:
    """The cached payload at ``path`` if valid for ``key``; else ``build()``, saved there."""
    payload = load_cache(path, key)
    if payload is None:
        payload = build()
        save_cache(path, key, payload)
    return payload
