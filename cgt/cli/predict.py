"""The command line ``python -m cgt.predict`` (``cgt-predict``): SMILES in, predictions out,
from a trained cgt checkpoint.

    python -m cgt.predict --checkpoint CKPT --smiles S [S ...] [--output FILE.csv | -]
    python -m cgt.predict --checkpoint CKPT --input FILE.csv [--smiles-column smiles] [--output ...]
    python -m cgt.predict --checkpoint RUN_DIR | CKPT CKPT ... [--mc-dropout K] ...   # uncertainty

Writes CSV: the input columns (``smiles`` for ``--smiles``; every column of ``--input``,
unchanged) followed by one column per target of the model (regression: the value in the
units of training; classification: the probability of class 1) and ``error`` (empty where
the row is valid, else a one-line reason; its predictions are empty). Every input row gives
one output row, in input order. A summary line goes to stderr.

With an ensemble (a run directory with ``ensemble.json``, or several checkpoints) or
``--mc-dropout K``, a ``T_std`` column follows each target ``T``: the members' (passes')
standard deviation, calibrated when the model carries a calibration (``--raw-std``: not).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

from cgt.checkpoint import CheckpointError
from cgt.inference import DEFAULT_BATCH_SIZE, DEFAULT_MAX_ATOMS, ERROR_COLUMN, load_model

EXIT_OK = 0
EXIT_INVALID_ROWS = 1
EXIT_USAGE = 2
PROGRESS_MIN_ROWS = 1000
MAX_LISTED_ROWS = 20

EPILOG = f"""\
exit status:
  {EXIT_OK}  predictions written (rows that could not be predicted have an empty prediction
     and a reason in the '{ERROR_COLUMN}' column)
  {EXIT_INVALID_ROWS}  --strict and at least one row could not be predicted: those rows are listed
     on stderr and no output is written
  {EXIT_USAGE}  usage error, unreadable or invalid checkpoint, unreadable input file or missing
     SMILES column, an output file that cannot be written, or --output naming the input
     file (the output is written to a temporary file and renamed, never half-written)

examples:
  python -m cgt.predict --checkpoint runs/zinc/checkpoints/best.ckpt --smiles CCO 'c1ccccc1O'
  python -m cgt.predict --checkpoint best.ckpt --input mols.csv --output predictions.csv
  python -m cgt.predict --checkpoint runs/ensemble --input mols.csv --output predictions.csv
  python -m cgt.predict --checkpoint best.ckpt --mc-dropout 20 --smiles CCO
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m cgt.predict``."""
    parser = argparse.ArgumentParser(
        prog="python -m cgt.predict",
        description="Predict molecular properties from SMILES with a trained cgt checkpoint.\n"
        f"Writes CSV: the input columns, one column per target and an '{ERROR_COLUMN}' column.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        nargs="+",
        metavar="CKPT",
        help="a cgt checkpoint (.ckpt), an ensemble run directory (with ensemble.json), or "
        "several checkpoints of the same targets (an ensemble)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--smiles", nargs="+", metavar="S", help="one or more SMILES strings")
    source.add_argument("--input", type=Path, metavar="FILE.csv", help="a CSV file with SMILES")
    parser.add_argument(
        "--smiles-column",
        default="smiles",
        help="the column of --input that holds the SMILES (default: smiles)",
    )
    parser.add_argument(
        "--output",
        default="-",
        metavar="FILE.csv",
        help="where to write the CSV; '-' (default) is standard output",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"molecules per forward pass (default: {DEFAULT_BATCH_SIZE}; more on a GPU)",
    )
    parser.add_argument(
        "--max-atoms",
        type=int,
        default=DEFAULT_MAX_ATOMS,
        help=f"larger molecules get an error row (memory grows with the square of the atom "
        f"count; default: {DEFAULT_MAX_ATOMS})",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device for the model, e.g. cpu, cuda (default: cpu)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for PyTorch (default: PyTorch's choice; 1 is faster on a busy machine)",
    )
    parser.add_argument(
        "--mc-dropout",
        type=int,
        default=0,
        metavar="K",
        help="Monte Carlo dropout: K stochastic passes per model (a model trained with "
        "dropout), adds the T_std columns (default: 0, off)",
    )
    parser.add_argument(
        "--raw-std",
        action="store_true",
        help="write the raw spread in the T_std columns, not the calibrated one",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help=f"any row that cannot be predicted is an error: list them, write nothing, "
        f"exit {EXIT_INVALID_ROWS}",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help=f"no progress bar (shown on stderr for {PROGRESS_MIN_ROWS} rows or more)",
    )
    return parser


def read_input(path: Path, smiles_column: str) -> tuple[pd.DataFrame, list[str]]:
    """Read ``path`` as text (every cell kept as written) and return it with its SMILES.

    Raises:
        ValueError: the file cannot be read or has no column ``smiles_column``.
    """
    if not path.is_file():
        raise ValueError(f"input file {path} does not exist")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"cannot read input file {path} as CSV: {err}") from err
    if smiles_column not in table.columns:
        raise ValueError(
            f"input file {path} has no column {smiles_column!r} (columns: "
            f"{', '.join(table.columns)}); choose one with --smiles-column"
        )
    return table, table[smiles_column].tolist()


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


def describe_invalid(predictions: pd.DataFrame, limit: int = MAX_LISTED_ROWS) -> list[str]:
    """One line per invalid row (1-based row number, SMILES, reason), at most ``limit`` lines."""
    invalid = predictions.index[predictions[ERROR_COLUMN] != ""]
    lines = [
        f"  row {i + 1}: {predictions.at[i, 'smiles']!r}: {predictions.at[i, ERROR_COLUMN]}"
        for i in invalid[:limit]
    ]
    if len(invalid) > limit:
        lines.append(f"  ... and {len(invalid) - limit} more rows")
    return lines


def _same_file(a: Path, b: str) -> bool:
    """Whether ``b`` names the file ``a`` (the same path, or a link to it)."""
    try:
        return Path(a).resolve() == Path(b).resolve() or os.path.samefile(a, b)
    except OSError:
        return False


def write_atomically(table: pd.DataFrame, path: Path) -> None:
    """Writes ``table`` as CSV to a temporary file next to ``path``, then renames it over
    ``path``: a failure or a kill never leaves a half-written file under its final name."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as a plainly created file (mkstemp: 0600)
        table.to_csv(temporary, index=False)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _encodable(value: object) -> object:
    """A cell that UTF-8 can write: lone surrogates (from undecodable command-line bytes) are
    written as backslash escapes instead of making the write fail."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see ``--help``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_atoms < 1:
        parser.error(f"--max-atoms must be at least 1, got {args.max_atoms}")
    if args.mc_dropout < 0:
        parser.error(f"--mc-dropout must be 0 (off) or a number of passes, got {args.mc_dropout}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)

    if args.input is not None and args.output != "-" and _same_file(args.input, args.output):
        print(
            f"error: --output {args.output} is the input file: choose another output "
            "(the input is never overwritten)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        if args.input is not None:
            inputs, smiles = read_input(args.input, args.smiles_column)
            source = str(args.input)
        else:
            smiles = list(args.smiles)
            inputs = pd.DataFrame({"smiles": pd.Series(smiles, dtype=object)})  # any str
            source = "--smiles"
        checkpoint = args.checkpoint[0] if len(args.checkpoint) == 1 else args.checkpoint
        model = load_model(checkpoint, device=args.device)
    except (CheckpointError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE

    progress = not args.no_progress and len(smiles) >= PROGRESS_MIN_ROWS
    predictions = model.predict(
        smiles,
        batch_size=args.batch_size,
        progress=progress,
        max_atoms=args.max_atoms,
        mc_dropout=args.mc_dropout,
        calibrated=not args.raw_std,
    )
    num_invalid = int((predictions[ERROR_COLUMN] != "").sum())
    summary = (
        f"{source}: {len(predictions)} rows, {len(predictions) - num_invalid} valid, "
        f"{num_invalid} invalid"
    )
    if args.strict and num_invalid:
        print(f"error: {summary}; --strict, so nothing is written:", file=sys.stderr)
        print("\n".join(describe_invalid(predictions, limit=len(predictions))), file=sys.stderr)
        return EXIT_INVALID_ROWS

    table, note = join_predictions(inputs, predictions)
    table = table.map(_encodable)
    if note:
        print(f"note: {note}", file=sys.stderr)
    try:
        if args.output == "-":
            table.to_csv(sys.stdout, index=False)
            sys.stdout.flush()
        else:
            write_atomically(table, Path(args.output))
    except OSError as err:
        print(f"error: cannot write {args.output}: {err}", file=sys.stderr)
        return EXIT_USAGE
    destination = "standard output" if args.output == "-" else args.output
    print(f"{summary}; written to {destination}", file=sys.stderr)
    if num_invalid:
        print("\n".join(describe_invalid(predictions)), file=sys.stderr)
    return EXIT_OK
