"""The command line ``python -m cgt.predict`` (``cgt-predict``): SMILES in, predictions out,
from a trained cgt checkpoint.

    python -m cgt.predict --checkpoint CKPT --smiles S [S ...] [--output FILE.csv | -]
    python -m cgt.predict --checkpoint CKPT --input FILE [--smiles-column smiles] [--output ...]
        [--workers N] [--shard K/N | --devices N] [--resume | --restart] [--chunk-rows 10000]
    python -m cgt.predict --checkpoint RUN_DIR | CKPT CKPT ... [--mc-dropout K] ...   # uncertainty
    python -m cgt.predict --checkpoint CKPT --embed [--layer K] ...                   # embeddings

Writes CSV (or Parquet for an output named ``.parquet``): the input columns (``smiles`` for
``--smiles``; every column of ``--input``, unchanged) followed by one column per target of the
model (regression: the value in the units of training; classification: the probability of
class 1) and ``error`` (empty where the row is valid, else a one-line reason; its predictions
are empty). Every input row gives one output row, in input order. A summary line goes to
stderr. ``--input`` (CSV, ``.csv.gz``, ``.smi``, Parquet) is streamed chunk by chunk through
:func:`cgt.screening.screen`: flat memory, worker processes, resumable, shardable.

With an ensemble (a run directory with ``ensemble.json``, or several checkpoints) or
``--mc-dropout K``, a ``T_std`` column follows each target ``T``: the members' (passes')
standard deviation, calibrated when the model carries a calibration (``--raw-std``: not).

``--embed`` writes each molecule's embedding instead of predictions: columns ``emb_0 ..
emb_{C-1}`` (the node features after CGT layer ``--layer``, pooled with the model's pooling;
:meth:`cgt.inference.CGTPredictor.embed`), with the same rows, order, ``error`` column and
``--input`` streaming. An ensemble's members embed into different spaces: the embeddings
are one member's (``--member K``, default the first).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from cgt.checkpoint import CheckpointError
from cgt.cli.options import add_threads_option, apply_threads
from cgt.ensemble import ensemble_sources
from cgt.inference import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ATOMS,
    ERROR_COLUMN,
    CGTPredictor,
    load_model,
)
from cgt.screening import (
    DEFAULT_CHUNK_ROWS,
    ResumeError,
    StrictError,
    describe_invalid,
    join_predictions,
    parse_shard,
    progress_dir,
    screen,
)
from cgt.tables import output_format, read_chunks

EXIT_OK = 0
EXIT_INVALID_ROWS = 1
EXIT_USAGE = 2
PROGRESS_MIN_ROWS = 1000

EPILOG = f"""\
exit status:
  {EXIT_OK}  predictions written (rows that could not be predicted have an empty prediction
     and a reason in the '{ERROR_COLUMN}' column)
  {EXIT_INVALID_ROWS}  --strict and at least one row could not be predicted: those rows are listed
     on stderr and no output is written (--input: the rows of the first chunk that has any)
  {EXIT_USAGE}  usage error, unreadable or invalid checkpoint, unreadable input file or missing
     SMILES column, an output file that cannot be written, or --output naming the input
     file (the output is written to a temporary file and renamed, never half-written)

examples:
  python -m cgt.predict --checkpoint runs/zinc/checkpoints/best.ckpt --smiles CCO 'c1ccccc1O'
  python -m cgt.predict --checkpoint best.ckpt --input mols.csv --output predictions.csv
  python -m cgt.predict --checkpoint runs/ensemble --input mols.csv --output predictions.csv
  python -m cgt.predict --checkpoint best.ckpt --mc-dropout 20 --smiles CCO
  python -m cgt.predict --checkpoint best.ckpt --embed --input mols.csv --output emb.parquet
  python -m cgt.predict --checkpoint best.ckpt --input library.smi.gz --output preds.parquet \
      --workers 4 --shard 3/10

--input is read and written chunk by chunk (--chunk-rows); the output appears under its
name only when complete. A killed run leaves its progress in .NAME.parts/ beside the output
NAME: running the same command again continues it (--restart starts afresh).
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
    source.add_argument(
        "--input",
        type=Path,
        metavar="FILE",
        help="a file with SMILES: CSV (.csv, .csv.gz), .smi (SMILES [name] per line) or Parquet",
    )
    parser.add_argument(
        "--smiles-column",
        default="smiles",
        help="the column of --input that holds the SMILES (default: smiles)",
    )
    parser.add_argument(
        "--output",
        default="-",
        metavar="FILE.csv",
        help="where to write: .parquet/.pq is Parquet, .gz gzip CSV, else CSV; '-' (default) "
        "is CSV on standard output",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="--input: processes featurizing while the model runs (default: one per CPU minus "
        "one, at most 8, for 10,000 rows or more; 0: none)",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=DEFAULT_CHUNK_ROWS,
        help=f"--input: rows read, predicted and written at a time; the unit of resuming "
        f"(default: {DEFAULT_CHUNK_ROWS})",
    )
    parser.add_argument(
        "--shard",
        default=None,
        metavar="K/N",
        help="--input: predict only the K-th (1..N) of N contiguous parts of the rows; the N "
        "outputs concatenated in order (CSV: one header) are the whole output",
    )
    parser.add_argument(
        "--devices",
        type=int,
        default=1,
        help="--input: predict with this many processes on this node, one per device of "
        "--device's type (Lightning's DDP launcher); each writes a shard, process 0 joins them "
        "(default: 1)",
    )
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume",
        action="store_true",
        help="--input: continue the interrupted run of --output (an error if there is none; "
        "without --resume an interrupted run with the same settings is continued anyway)",
    )
    resume.add_argument(
        "--restart",
        action="store_true",
        help="--input: discard the progress of an interrupted run of --output and start again",
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
    add_threads_option(parser)
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
        "--embed",
        action="store_true",
        help="write each molecule's embedding (columns emb_0 .. emb_{C-1}: the pooled node "
        "features of a CGT layer) instead of predictions",
    )
    parser.add_argument(
        "--layer",
        type=int,
        default=None,
        metavar="K",
        help="--embed: the CGT layer whose output is pooled, 0-based, negative counted from "
        "the end (default: -1, the last, what the model's head reads)",
    )
    parser.add_argument(
        "--member",
        type=int,
        default=None,
        metavar="K",
        help="--embed with an ensemble: whose embeddings, 0-based (default: 0; members' "
        "embeddings live in different spaces and are not averaged)",
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


def _same_file(a: Path, b: str) -> bool:
    """Whether ``b`` names the file ``a`` (the same path, or a link to it)."""
    try:
        return Path(a).resolve() == Path(b).resolve() or os.path.samefile(a, b)
    except OSError:
        return False


def write_atomically(table: pd.DataFrame, path: Path) -> None:
    """Writes ``table`` to a temporary file next to ``path``, then renames it over ``path``:
    a failure or a kill never leaves a half-written file under its final name. The format is
    the name's (:func:`cgt.tables.output_format`: Parquet, gzip CSV or CSV)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as a plainly created file (mkstemp: 0600)
        fmt = output_format(path)
        if fmt == "parquet":
            table.to_parquet(temporary, index=False)
        else:
            table.to_csv(temporary, index=False, compression="gzip" if fmt == "csv.gz" else None)
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


def read_input(path: Path, smiles_column: str) -> tuple[pd.DataFrame, list[str]]:
    """Read a whole input file (CSV, ``.csv.gz``, ``.smi``, Parquet; :mod:`cgt.tables`; cells
    kept as written) and return it with its SMILES. For files that fit in memory (``--input``
    of this command streams instead).

    Raises:
        ValueError: the file cannot be read or has no column ``smiles_column``.
    """
    table = pd.concat(read_chunks(path, 1 << 16, smiles_column=smiles_column))
    table = table.reset_index(drop=True)
    return table, table[smiles_column].tolist()


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
    apply_threads(parser, args)
    if not args.embed and (args.layer is not None or args.member is not None):
        parser.error("--layer and --member need --embed")
    if args.embed and (args.mc_dropout or args.raw_std):
        parser.error("--embed writes embeddings, which have no spread: it excludes "
                     "--mc-dropout and --raw-std")  # fmt: skip

    if args.input is None and (args.shard or args.resume or args.restart):
        parser.error("--shard, --resume and --restart need --input")
    if args.workers is not None and args.workers < 0:
        parser.error(f"--workers must be at least 0, got {args.workers}")
    if args.chunk_rows < 1:
        parser.error(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    try:
        shard = parse_shard(args.shard) if args.shard else (1, 1)
    except ValueError as err:
        parser.error(f"--shard: {err}")
    if args.resume and args.output == "-":
        parser.error("--resume needs an --output file")
    if args.devices < 1:
        parser.error(f"--devices must be at least 1, got {args.devices}")
    if args.input is not None and args.output != "-" and _same_file(args.input, args.output):
        print(
            f"error: --output {args.output} is the input file: choose another output "
            "(the input is never overwritten)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.devices > 1:
        if args.input is None or args.output == "-" or args.shard:
            parser.error("--devices needs --input and an --output file, and excludes --shard")
        return predict_file(args, None, (1, 1))

    try:
        model = load_model(_checkpoint(args), device=args.device)
        if args.embed:
            model.model.layer_index(_layer(args))
    except (CheckpointError, FileNotFoundError, ValueError, RuntimeError, IndexError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.input is not None:
        return predict_file(args, model, shard)

    smiles = list(args.smiles)
    inputs = pd.DataFrame({"smiles": pd.Series(smiles, dtype=object)})  # any str
    source = "--smiles"

    progress = not args.no_progress and len(smiles) >= PROGRESS_MIN_ROWS
    if args.embed:
        predictions = model.embed(
            smiles, _layer(args), args.batch_size, progress, max_atoms=args.max_atoms
        )
    else:
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
    text = table.select_dtypes(exclude="number").columns  # numbers keep their type
    table[text] = table[text].map(_encodable)
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


def _checkpoint(args: argparse.Namespace) -> Path | list[Path]:
    """The ``--checkpoint`` value(s) as :func:`cgt.inference.load_model` takes them; with
    ``--embed``, the one checkpoint whose embeddings are written (``--member`` of an
    ensemble, with a note on stderr).

    Raises:
        ValueError: ``--member`` of one checkpoint, or out of the ensemble's range.
        CheckpointError, FileNotFoundError: an ensemble's manifest or member is missing.
    """
    path = args.checkpoint[0] if len(args.checkpoint) == 1 else list(args.checkpoint)
    if not args.embed:
        return path
    if isinstance(path, Path) and not path.is_dir():
        if args.member is not None:
            raise ValueError(f"--member chooses a member of an ensemble; {path} is one model")
        return path
    members = ensemble_sources(path).checkpoints
    member = 0 if args.member is None else args.member
    count = len(members)
    if not -count <= member < count:
        raise ValueError(
            f"--member {member} out of range: the ensemble has {count} members "
            f"(valid: {-count}..{count - 1})"
        )
    print(
        f"note: --embed with an ensemble: the embeddings of member {member % count} of {count} "
        f"({members[member]}); --member chooses another",
        file=sys.stderr,
    )
    return members[member]


def _layer(args: argparse.Namespace) -> int:
    """``--layer``, -1 (the last layer) by default."""
    return -1 if args.layer is None else args.layer


def predict_file(
    args: argparse.Namespace, model: CGTPredictor | None, shard: tuple[int, int]
) -> int:
    """``--input``: :func:`cgt.screening.screen` of the file (with ``model``, or on
    ``--devices`` processes when ``model`` is None); prints the summary; exit status."""
    stream = args.output == "-"
    output: Any = sys.stdout.buffer if stream else Path(args.output)
    if model is not None and not stream and progress_dir(output).exists() and not args.restart:
        print(f"note: continuing the interrupted run in {progress_dir(output)}", file=sys.stderr)
    try:
        if model is None:
            from cgt.cli.predict_devices import predict_on_devices

            run = partial(predict_on_devices, args.device, args.devices, _checkpoint(args))
        else:
            run = partial(screen, model)
        summary = run(
            args.input,
            output,
            smiles_column=args.smiles_column,
            chunk_rows=args.chunk_rows,
            batch_size=args.batch_size,
            max_atoms=args.max_atoms,
            mc_dropout=args.mc_dropout,
            calibrated=not args.raw_std,
            embed=args.embed,
            layer=_layer(args),
            workers=args.workers,
            **({"shard": shard} if model is not None else {}),
            resume=args.resume,
            restart=args.restart,
            strict=args.strict,
            progress=not args.no_progress,
            progress_min_rows=PROGRESS_MIN_ROWS,
        )
    except StrictError as err:
        print(f"error: {err}; --strict, so nothing is written:", file=sys.stderr)
        print("\n".join(err.lines), file=sys.stderr)
        return EXIT_INVALID_ROWS
    except (ResumeError, CheckpointError, FileNotFoundError, ValueError, IndexError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        print(f"error: cannot write {args.output}: {err}", file=sys.stderr)
        return EXIT_USAGE
    if summary is None:  # a process of --devices other than the first: it prints nothing
        return EXIT_OK
    if summary.note:
        print(f"note: {summary.note}", file=sys.stderr)
    where = ""
    if shard != (1, 1):
        last = summary.first_row + summary.rows
        where = f" (shard {shard[0]}/{shard[1]}: rows {summary.first_row + 1}-{last})"
    if summary.resumed_rows:
        where += f" (resumed: {summary.resumed_rows} rows were done)"
    destination = "standard output" if stream else args.output
    print(
        f"{args.input}{where}: {summary.rows} rows, {summary.rows - summary.invalid} valid, "
        f"{summary.invalid} invalid; written to {destination}",
        file=sys.stderr,
    )
    if summary.examples:
        print("\n".join(summary.examples), file=sys.stderr)
    return EXIT_OK
