"""Table files read and written in chunks of rows: CSV (plain or ``.gz``), ``.smi`` and Parquet.

Reading never holds more than a chunk (plus what the file format buffers): every reader
yields ``pandas.DataFrame`` chunks whose index is the position of each row in the file
(0 = the first data row), so a caller can name the row of any problem. Cells keep the text
they were written with: CSV and ``.smi`` cells are strings (``""`` for an empty cell), and
Parquet columns keep their Arrow types.

- CSV: a header line, then one row per record (``.csv``, ``.csv.gz``, any other name).
- ``.smi`` (``.smi``, ``.smiles``, optionally ``.gz``): one molecule per line, the SMILES
  then, after white space, an optional name; no header. Columns ``smiles`` and ``name``;
  every line is a row (an empty line is a row with an empty SMILES).
- Parquet (``.parquet``, ``.pq``).

Output is written as parts (one file per chunk, each written atomically) that
:func:`merge_parts` joins into one CSV, ``.csv.gz`` or Parquet file; :func:`concat_outputs`
joins whole output files (the shards of a library) into one.
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

__all__ = [
    "SMI_COLUMNS",
    "input_format",
    "output_format",
    "count_rows",
    "read_chunks",
    "write_part",
    "merge_parts",
    "concat_outputs",
]

#: The columns of a ``.smi`` file.
SMI_COLUMNS = ("smiles", "name")

_SMI_SUFFIXES = (".smi", ".smiles", ".smi.gz", ".smiles.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def input_format(path: str | os.PathLike) -> str:
    """``"parquet"``, ``"smi"`` or ``"csv"`` (every other name, ``.gz`` or not)."""
    name = Path(path).name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_SMI_SUFFIXES):
        return "smi"
    return "csv"


def output_format(path: str | os.PathLike) -> str:
    """``"parquet"``, ``"csv.gz"`` or ``"csv"`` (every other name)."""
    name = Path(path).name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    return "csv.gz" if name.endswith(".gz") else "csv"


def _part_suffix(fmt: str) -> str:
    return ".parquet" if fmt == "parquet" else ".csv"


def _check_column(path: Path, columns: Iterable[str], smiles_column: str) -> None:
    columns = list(columns)
    if smiles_column not in columns:
        hint = (
            "a .smi file has the columns smiles and name"
            if input_format(path) == "smi"
            else "choose one with --smiles-column"
        )
        raise ValueError(
            f"input file {path} has no column {smiles_column!r} (columns: "
            f"{', '.join(map(str, columns))}); {hint}"
        )


def _empty(path: Path, smiles_column: str) -> pd.DataFrame:
    """The file's columns with no rows (checks that the file is readable and has the column)."""
    if not path.is_file():
        raise ValueError(f"input file {path} does not exist")
    fmt = input_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            empty = pq.read_schema(path).empty_table().to_pandas(types_mapper=pd.ArrowDtype)
        elif fmt == "smi":
            empty = pd.DataFrame({name: pd.Series([], dtype=str) for name in SMI_COLUMNS})
        else:
            empty = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=0)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
        raise ValueError(f"cannot read input file {path} as {fmt}: {err}") from err
    _check_column(path, empty.columns, smiles_column)
    return empty


def _raw_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The file's rows in consecutive frames of at most ``rows`` rows (any index)."""
    fmt = input_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield batch.to_pandas(types_mapper=pd.ArrowDtype)
    elif fmt == "smi":
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            lines: list[list[str]] = []
            for line in handle:
                fields = line.strip().split(None, 1)
                lines.append(fields + [""] * (2 - len(fields)))
                if len(lines) == rows:
                    yield pd.DataFrame(lines, columns=list(SMI_COLUMNS), dtype=str)
                    lines = []
            if lines:
                yield pd.DataFrame(lines, columns=list(SMI_COLUMNS), dtype=str)
    else:
        with pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=rows) as reader:
            yield from reader


def count_rows(path: str | os.PathLike, smiles_column: str = "smiles") -> int:
    """Number of data rows of ``path`` (Parquet: from its metadata; others: one pass).

    Raises:
        ValueError: the file does not exist, cannot be read, or has no ``smiles_column``.
    """
    path = Path(path)
    _empty(path, smiles_column)
    if input_format(path) == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if input_format(path) == "smi":
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as handle:
            return sum(1 for _ in handle)
    total = 0
    try:
        with pd.read_csv(
            path, dtype=str, keep_default_na=False, usecols=[smiles_column], chunksize=1 << 16
        ) as reader:
            for frame in reader:
                total += len(frame)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise ValueError(
            f"cannot read input file {path} as CSV (after row {total}): {err}"
        ) from err
    return total


def read_chunks(
    path: str | os.PathLike,
    rows: int,
    start: int = 0,
    stop: int | None = None,
    smiles_column: str = "smiles",
) -> Iterator[pd.DataFrame]:
    """The rows ``start`` to ``stop`` (excluded; ``None``: the end) of ``path``, in frames of
    exactly ``rows`` rows (the last one may be shorter), indexed by row position in the file.

    An empty range yields one empty frame with the file's columns, so that a caller always
    learns the columns.

    Raises:
        ValueError: the file does not exist, cannot be read, or has no ``smiles_column``.
    """
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    path = Path(path)
    empty = _empty(path, smiles_column)
    position = 0  # file position of the first row of the current raw frame
    first = start  # file position of the first pending row
    pending: list[pd.DataFrame] = []
    pending_rows = 0
    yielded = False
    try:
        for frame in _raw_chunks(path, rows):
            low = max(0, start - position)
            high = len(frame) if stop is None else min(len(frame), stop - position)
            if low < high:
                pending.append(frame.iloc[low:high])
                pending_rows += high - low
            while pending_rows >= rows:
                merged = pd.concat(pending) if len(pending) > 1 else pending[0]
                yield merged.iloc[:rows].set_axis(pd.RangeIndex(first, first + rows))
                yielded = True
                first += rows
                rest = merged.iloc[rows:]
                pending, pending_rows = ([rest] if len(rest) else []), len(rest)
            position += len(frame)
            if stop is not None and position >= stop:
                break
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise ValueError(
            f"cannot read input file {path} as {input_format(path)} (after row {position}): {err}"
        ) from err
    if pending_rows:
        merged = pd.concat(pending) if len(pending) > 1 else pending[0]
        yield merged.set_axis(pd.RangeIndex(first, first + pending_rows))
    elif not yielded:
        yield empty


def write_part(frame: pd.DataFrame, path: Path, fmt: str, header: bool) -> None:
    """Writes one part atomically (temporary name in the same folder, then a rename).

    ``fmt`` is an :func:`output_format`; CSV parts are plain text (the header only when
    ``header``), compressed when merged.
    """
    temporary = path.with_name(path.name + ".tmp")
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), temporary)
    else:
        frame.to_csv(temporary, index=False, header=header)
    os.replace(temporary, path)


def merge_parts(parts: list[Path], destination: Path, fmt: str) -> None:
    """Joins the parts (in order) into ``destination``: CSV text, gzip-compressed CSV, or one
    Parquet file with a row group per part, one part in memory at a time."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        writer = None
        try:
            for part in parts:
                source = pq.ParquetFile(part)
                if writer is None:
                    writer = pq.ParquetWriter(destination, source.schema_arrow)
                for group in range(source.num_row_groups):
                    table = source.read_row_group(group)
                    if not table.schema.equals(writer.schema, check_metadata=False):
                        table = table.cast(writer.schema)
                    writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        return
    opener = gzip.open if fmt == "csv.gz" else open
    with opener(destination, "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)


def concat_outputs(sources: list[Path], destination: Path, fmt: str | None = None) -> None:
    """Concatenates output files of one format (e.g. the shards of a run, in shard order)
    into ``destination``: CSV (``.gz`` or not) with the header of the first file only, or
    Parquet with the row groups of every file; one row group or block in memory at a time.
    ``fmt``: the :func:`output_format` (default: that of ``destination``'s name)."""
    fmt = fmt or output_format(destination)
    if any(output_format(source) != fmt for source in sources):
        raise ValueError(f"{destination}: every file to concatenate must be {fmt}")
    if fmt == "parquet":
        merge_parts(sources, destination, fmt)
        return
    opener = gzip.open if fmt == "csv.gz" else open
    with opener(destination, "wb") as out:
        for i, source in enumerate(sources):
            with opener(source, "rb") as handle:
                header = handle.readline()
                if i == 0:
                    out.write(header)
                shutil.copyfileobj(handle, out, 1 << 20)
