"""Screening a table file of any size: predictions streamed chunk by chunk, resumable, shardable.

    >>> from cgt.screening import screen
    >>> model = cgt.load_model("best.ckpt")                            # doctest: +SKIP
    >>> screen(model, "library.smi", "predictions.parquet", workers=2)  # doctest: +SKIP

:func:`screen` reads the input (CSV, ``.csv.gz``, ``.smi``, Parquet; :mod:`cgt.tables`) in
chunks of ``chunk_rows`` rows, featurizes each chunk (in worker processes with ``workers``,
:class:`cgt.featurize_pool.FeaturizePool`), predicts it with
:meth:`cgt.inference.CGTPredictor.predict_featurized` and writes it, so memory stays flat
whatever the size of the file. The output holds every input row and column, in input
order, followed by the prediction columns and ``error`` (see :func:`join_predictions`).
With ``embed=True`` the columns are each molecule's embedding instead, ``emb_0 ..
emb_{C-1}`` (:meth:`~cgt.inference.CGTPredictor.embed` of CGT layer ``layer``), with the
same rows, order, ``error`` column, resuming and shards.

**Never half-written**: each chunk is written as a part file (atomically) into the progress
folder ``.NAME.parts/`` next to the output ``NAME``, with ``state.json`` recording the run's
settings and the parts done. At the end the parts are joined into a temporary file in the
output's folder, which is renamed to the output; then the progress folder is removed.

**Resumable**: a run whose progress folder exists (it was killed) continues after its last
complete part, if its settings (input file, model, SMILES column, chunk size, shard, output
format) are the same; the result is the file an uninterrupted run writes.

**Shards**: ``shard=(K, N)`` predicts only the K-th (1-based) of N contiguous parts of the
input rows. Parts are made of whole chunks (chunks ``floor((K-1)·C/N)`` to ``floor(K·C/N)``
of the C chunks), so each shard predicts exactly the batches of the unsharded run, and the N
outputs, concatenated in order (CSV: the header once), are byte for byte the unsharded
output. A shard with no chunk writes the header only: use ``chunk_rows <= rows / N`` to give
every shard work.

The float32 model gives the same numbers for a molecule whatever its batch up to rounding
(about 1e-7 relative): a run's output does not depend on ``workers``, on being resumed or
sharded, but can differ in the last digits from :meth:`~cgt.inference.CGTPredictor.predict`
of the whole list, whose batches are made differently.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from cgt.featurize_pool import FeaturizePool, default_workers
from cgt.inference import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ATOMS,
    ERROR_COLUMN,
    CGTPredictor,
    Featurized,
)
from cgt.tables import count_rows, merge_parts, output_format, read_chunks, write_part

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "WORKERS_MIN_ROWS",
    "MAX_LISTED_ROWS",
    "ScreenSummary",
    "ResumeError",
    "StrictError",
    "screen",
    "shard_range",
    "parse_shard",
    "progress_dir",
    "join_predictions",
    "describe_invalid",
    "temporary_beside",
]

#: Rows per chunk: the unit of reading, writing and resuming (about 10 MB of graphs).
DEFAULT_CHUNK_ROWS = 10_000

#: Fewest rows for which worker processes are started by default (starting one takes
#: seconds: about the time to featurize a few thousand molecules).
WORKERS_MIN_ROWS = 10_000

#: Invalid rows listed in a summary.
MAX_LISTED_ROWS = 20

_STATE_VERSION = 1


class ResumeError(ValueError):
    """A progress folder exists for the output, but from a run with other settings."""


class StrictError(ValueError):
    """``strict=True`` and a chunk has rows that cannot be predicted (nothing is written).

    Attributes:
        lines: one line per invalid row of that chunk (:func:`describe_invalid`).
    """

    def __init__(self, message: str, lines: list[str]) -> None:
        super().__init__(message)
        self.lines = lines


@dataclass
class ScreenSummary:
    """What :func:`screen` did.

    Attributes:
        rows: rows of the input (of the shard) in the output.
        invalid: rows that could not be predicted (NaN predictions and a reason).
        first_row: file position of the shard's first row.
        resumed_rows: rows found done by an earlier, interrupted run (0 for a fresh run).
        note: a note about renamed prediction columns (``""`` if none).
        examples: lines describing the first invalid rows (at most :data:`MAX_LISTED_ROWS`).
    """

    rows: int
    invalid: int
    first_row: int
    resumed_rows: int = 0
    note: str = ""
    examples: list[str] = field(default_factory=list)


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``1 <= K <= N``; :class:`ValueError` otherwise."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"a shard is K/N with whole numbers (e.g. 3/8), got {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"a shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def shard_range(rows: int, shard: tuple[int, int], chunk_rows: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of the K-th of N contiguous parts of ``rows`` rows, made of
    whole chunks of ``chunk_rows`` rows."""
    k, n = shard
    chunks = -(-rows // chunk_rows)
    start = (k - 1) * chunks // n * chunk_rows
    return min(rows, start), min(rows, k * chunks // n * chunk_rows)


def progress_dir(output: str | os.PathLike) -> Path:
    """The progress folder of a run writing ``output``: ``.NAME.parts`` beside it."""
    output = Path(output)
    return output.with_name(f".{output.name}.parts")


def join_predictions(inputs: pd.DataFrame, predictions: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Input columns followed by the prediction and ``error`` columns.

    Where a prediction column's name is already an input column, the prediction columns get a
    ``_pred`` suffix (all of them, so they stay recognisable); the returned note says so
    (empty string otherwise).
    """
    new = predictions.drop(columns="smiles")
    clash = [c for c in new.columns if c in inputs.columns]
    note = ""
    if clash:
        new = new.add_suffix("_pred")
        note = (
            f"input already has column(s) {', '.join(clash)}: prediction columns are named "
            f"{', '.join(new.columns)}"
        )
    return pd.concat([inputs.reset_index(drop=True), new.reset_index(drop=True)], axis=1), note


def describe_invalid(
    predictions: pd.DataFrame, limit: int = MAX_LISTED_ROWS, first_row: int = 0
) -> list[str]:
    """One line per invalid row (1-based row number in the file, SMILES, reason), at most
    ``limit`` lines (and a line counting the others); ``first_row``: the file position of
    the first row of ``predictions``."""
    invalid = predictions.index[predictions[ERROR_COLUMN] != ""]
    lines = [
        f"  row {first_row + i + 1}: {predictions.at[i, 'smiles']!r}: "
        f"{predictions.at[i, ERROR_COLUMN]}"
        for i in invalid[:limit]
    ]
    if len(invalid) > limit:
        lines.append(f"  ... and {len(invalid) - limit} more rows")
    return lines


def _settings(
    predictor: CGTPredictor,
    source: Path,
    smiles_column: str,
    chunk_rows: int,
    shard: tuple[int, int],
    fmt: str,
) -> dict[str, Any]:
    """What a resumed run must share with the run it continues."""
    stat = source.stat()
    checkpoint = getattr(predictor, "checkpoint", None)
    if checkpoint is not None:
        model_stat = Path(checkpoint.path).stat()
        model: Any = [str(Path(checkpoint.path).resolve()), model_stat.st_size,
                      model_stat.st_mtime_ns]  # fmt: skip
    else:
        model = repr(predictor)
    return {
        "input": [str(source.resolve()), stat.st_size, stat.st_mtime_ns],
        "model": model,
        "smiles_column": smiles_column,
        "chunk_rows": chunk_rows,
        "shard": f"{shard[0]}/{shard[1]}",
        "format": fmt,
    }


def _write_json(path: Path, value: Any) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(value, indent=1) + "\n")
    os.replace(temporary, path)


def _load_state(folder: Path, settings: dict[str, Any], restart: bool) -> dict[str, Any]:
    """The progress of an earlier run with these settings, or a fresh one (folder created)."""
    state_file = folder / "state.json"
    if folder.exists() and not restart:
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = None  # killed before its first state was written: nothing to keep
        if state is not None and state.get("version") == _STATE_VERSION:
            if state["settings"] != settings:
                changed = [k for k in settings if state["settings"].get(k) != settings[k]]
                raise ResumeError(
                    f"{folder} holds an interrupted run with other settings ("
                    f"{', '.join(changed)} differ): run with the same settings to resume it, "
                    "or with --restart to discard it"
                )
            return state
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    state = {"version": _STATE_VERSION, "settings": settings, "note": "", "parts": []}
    _write_json(state_file, state)
    return state


def screen(
    predictor: CGTPredictor,
    source: str | os.PathLike,
    output: str | os.PathLike | BinaryIO,
    *,
    smiles_column: str = "smiles",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_atoms: int = DEFAULT_MAX_ATOMS,
    mc_dropout: int = 0,
    calibrated: bool = True,
    embed: bool = False,
    layer: int = -1,
    workers: int | None = None,
    shard: tuple[int, int] = (1, 1),
    resume: bool = False,
    restart: bool = False,
    strict: bool = False,
    progress: bool = False,
    progress_min_rows: int = 0,
) -> ScreenSummary:
    """Predicts every row of the table file ``source`` into ``output``, chunk by chunk.

    Args:
        predictor: the model (:func:`cgt.load_model`).
        source: CSV (``.gz`` or not), ``.smi`` or Parquet file (:mod:`cgt.tables`).
        output: a path (``.parquet``/``.pq``: Parquet; ``.gz``: gzip CSV; else CSV), or a
            binary stream that receives CSV (no resuming: the progress lives in a temporary
            folder).
        smiles_column: the column of SMILES (``smiles`` for a ``.smi`` file).
        chunk_rows: rows per chunk (the unit of memory, writing and resuming).
        batch_size: molecules per forward pass (does not change the results).
        max_atoms: larger molecules get an error row (as for ``CGTPredictor.predict``).
        mc_dropout, calibrated: the spread of an ensemble or of Monte Carlo dropout, as for
            ``CGTPredictor.predict`` (``T_std`` columns).
        embed: write embeddings (``emb_0 .. emb_{C-1}``, ``CGTPredictor.embed``) instead of
            predictions; an ensemble's are its first member's (pass ``predictor.members[k]``
            for another).
        layer: with ``embed``, the CGT layer whose output is pooled (``-1``: the last).
        workers: featurizing processes (0: in this process); ``None``:
            :func:`~cgt.featurize_pool.default_workers` for :data:`WORKERS_MIN_ROWS` rows or
            more, else 0 (starting workers costs seconds).
        shard: ``(K, N)``: only the K-th of N contiguous parts of the rows.
        resume: require an interrupted run to continue (an error if there is none); without
            it, an interrupted run with the same settings is continued, else one starts.
        restart: discard the progress of an interrupted run and start again.
        strict: stop at the first chunk with a row that cannot be predicted, write nothing
            (:class:`StrictError`, its rows listed) and discard the progress.
        progress: a progress bar on stderr (molecules done, rate, ETA) ...
        progress_min_rows: ... when there are at least this many rows.

    Returns:
        A :class:`ScreenSummary`.

    Raises:
        ValueError: unreadable input, no ``smiles_column``, bad ``chunk_rows``, ``resume``
            with no interrupted run, ``embed`` with ``mc_dropout``.
        IndexError: ``embed`` and a ``layer`` the model does not have.
        ResumeError: an interrupted run with other settings (and not ``restart``).
        StrictError: see ``strict``.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if resume and restart:
        raise ValueError("resume and restart exclude each other")
    if embed:
        if mc_dropout:
            raise ValueError("embeddings are deterministic: embed excludes mc_dropout")
        layer = predictor.model.layer_index(layer)  # -1 and L-1 resume each other
    source = Path(source)
    stream = not isinstance(output, (str, os.PathLike))
    fmt = "csv" if stream else output_format(output)
    total = count_rows(source, smiles_column)
    start, stop = shard_range(total, shard, chunk_rows)
    settings = _settings(predictor, source, smiles_column, chunk_rows, shard, fmt)
    settings.update(max_atoms=max_atoms, mc_dropout=mc_dropout, calibrated=calibrated,
                    embed=layer if embed else None)  # fmt: skip
    if workers is None:
        workers = default_workers() if stop - start >= WORKERS_MIN_ROWS else 0
    progress = progress and stop - start >= progress_min_rows
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch, "parts") if stream else progress_dir(output)
        if resume and not (folder / "state.json").is_file():
            raise ValueError(f"--resume: there is no interrupted run to resume ({folder})")
        state = _load_state(folder, settings, restart)
        try:
            summary = _run(predictor, source, folder, state, fmt, start, stop, smiles_column,
                           batch_size, workers, strict, progress)  # fmt: skip
        except BaseException:
            if not state["parts"]:  # nothing to resume: leave nothing behind
                shutil.rmtree(folder, ignore_errors=True)
            raise
        parts = [folder / name for name in _part_names(len(state["parts"]), fmt)]
        if stream:
            merge_parts(parts, Path(scratch, "joined"), fmt)
            with open(Path(scratch, "joined"), "rb") as joined:
                shutil.copyfileobj(joined, output)  # type: ignore[arg-type]
            output.flush()  # type: ignore[union-attr]
        else:
            output = Path(output)
            temporary = temporary_beside(output)
            try:
                merge_parts(parts, Path(temporary), fmt)
                os.replace(temporary, output)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            shutil.rmtree(folder)
    return summary


def temporary_beside(output: Path) -> str:
    """A new empty file in ``output``'s folder to be renamed to ``output``, with the
    permissions of a plainly created file (``mkstemp`` makes it private)."""
    handle, temporary = tempfile.mkstemp(
        dir=output.parent, prefix=f".{output.name}.", suffix=".tmp"
    )
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    return temporary


def _part_names(count: int, fmt: str) -> list[str]:
    suffix = ".parquet" if fmt == "parquet" else ".csv"
    return [f"part-{i:06d}{suffix}" for i in range(count)]


def _outputs(
    predictor: CGTPredictor,
    smiles: list[Any],
    featurized: Featurized,
    settings: dict[str, Any],
    batch_size: int,
) -> pd.DataFrame:
    """The predictions of a chunk, or its embeddings when ``settings["embed"]`` is a layer."""
    if settings["embed"] is not None:
        return predictor.embed_featurized(smiles, featurized, settings["embed"], batch_size)
    return predictor.predict_featurized(smiles, featurized, batch_size,
                                        mc_dropout=settings["mc_dropout"],
                                        calibrated=settings["calibrated"])  # fmt: skip


def _run(
    predictor: CGTPredictor,
    source: Path,
    folder: Path,
    state: dict[str, Any],
    fmt: str,
    start: int,
    stop: int,
    smiles_column: str,
    batch_size: int,
    workers: int,
    strict: bool,
    progress: bool,
) -> ScreenSummary:
    """Predicts and writes the parts not done yet; the summary of all parts."""
    done = sum(part["rows"] for part in state["parts"])
    summary = ScreenSummary(rows=stop - start, invalid=0, first_row=start, resumed_rows=done)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=stop - start, initial=done, unit="mol", desc="predicting",
                   file=sys.stderr, smoothing=0.1)  # fmt: skip
    try:
        if not state["parts"] or done < stop - start:
            frames = read_chunks(source, state["settings"]["chunk_rows"], start + done, stop,
                                 smiles_column)  # fmt: skip
            jobs = ((frame, frame[smiles_column].tolist()) for frame in frames)
            max_atoms = state["settings"]["max_atoms"]
            with FeaturizePool(predictor.featurizer, workers, max_atoms=max_atoms) as pool:
                for frame, featurized in pool.map(jobs):
                    smiles = frame[smiles_column].tolist()
                    predictions = _outputs(predictor, smiles, featurized, state["settings"],
                                           batch_size)  # fmt: skip
                    first_row = int(frame.index[0]) if len(frame) else start
                    lines = describe_invalid(predictions, MAX_LISTED_ROWS, first_row)
                    if strict and lines:
                        shutil.rmtree(folder, ignore_errors=True)
                        raise StrictError(
                            f"{source}: rows {first_row + 1}-{first_row + len(frame)} hold rows "
                            "that cannot be predicted",
                            describe_invalid(predictions, len(frame), first_row),
                        )
                    table, note = join_predictions(frame, predictions)
                    index = len(state["parts"])
                    name = _part_names(index + 1, fmt)[-1]
                    write_part(table, folder / name, fmt, header=index == 0)
                    invalid = int((predictions[ERROR_COLUMN] != "").sum())
                    state["note"] = note
                    state["parts"].append({"rows": len(frame), "invalid": invalid,
                                           "examples": lines[:MAX_LISTED_ROWS]})  # fmt: skip
                    _write_json(folder / "state.json", state)
                    if bar is not None:
                        bar.update(len(frame))
    finally:
        if bar is not None:
            bar.close()
    summary.note = state["note"]
    for part in state["parts"]:
        summary.invalid += part["invalid"]
        room = MAX_LISTED_ROWS - len(summary.examples)
        summary.examples += part["examples"][:room]
    if summary.invalid > len(summary.examples):
        summary.examples.append(f"  ... and {summary.invalid - len(summary.examples)} more rows")
    return summary
