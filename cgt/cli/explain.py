"""The command line ``python -m cgt.explain`` (``cgt-explain``): which atoms drive a
prediction, as pictures and a table.

    python -m cgt.explain --checkpoint CKPT --smiles S [S ...] --output DIR
    python -m cgt.explain --checkpoint CKPT --input FILE.csv [--smiles-column smiles] --output DIR
        [--kind atoms|attention] [--format png|svg] [--target NAME ...] [--atom I] [--layer L]

Writes into ``DIR`` one image per molecule and target (``mol_0001.png``: row 1 of the input;
``mol_0001_<target>.png`` when several targets are drawn) and ``contributions.csv`` with the
columns ``row, smiles, atom, element, target, contribution, error``: one line per atom and
target, plus one line per target for the constant part (``element`` ``(constant)``, ``atom``
empty), so that a molecule's contributions to a target sum to its prediction (to its logit
for classification). Every input row is kept: a row that cannot be explained has one line
with its reason in ``error`` and no image. A summary goes to stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from cgt.checkpoint import CheckpointError
from cgt.cli.options import add_threads_option, apply_threads, parse_units
from cgt.cli.predict import EXIT_INVALID_ROWS, EXIT_OK, EXIT_USAGE, read_input
from cgt.explanation import DRAW_KINDS
from cgt.inference import ERROR_COLUMN, load_checkpoint

__all__ = ["build_parser", "main", "CONTRIBUTIONS_FILE"]

#: The table written next to the images.
CONTRIBUTIONS_FILE = "contributions.csv"
COLUMNS = ["row", "smiles", "atom", "element", "target", "contribution", ERROR_COLUMN]
MAX_LISTED_ROWS = 20

EPILOG = f"""\
exit status:
  {EXIT_OK}  written (rows that could not be explained have a reason in the '{ERROR_COLUMN}'
     column of {CONTRIBUTIONS_FILE} and no image)
  {EXIT_INVALID_ROWS}  --strict and at least one row could not be explained: those rows are listed
     on stderr and nothing is written
  {EXIT_USAGE}  usage error, unreadable or invalid checkpoint, unreadable input file or missing
     SMILES column, unknown target, or an output directory that cannot be written

examples:
  python -m cgt.explain --checkpoint runs/zinc/checkpoints/best.ckpt --smiles 'c1ccccc1O' \\
      --output explained
  python -m cgt.explain --checkpoint best.ckpt --input mols.csv --output expl --kind attention
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m cgt.explain``."""
    parser = argparse.ArgumentParser(
        prog="python -m cgt.explain",
        description="Explain a cgt model's predictions: each atom's exact contribution (and "
        "attention), drawn on the molecule, and a CSV of the contributions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="a cgt checkpoint (.ckpt)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--smiles", nargs="+", metavar="S", help="one or more SMILES strings")
    source.add_argument("--input", type=Path, metavar="FILE.csv", help="a CSV file with SMILES")
    parser.add_argument(
        "--smiles-column",
        default="smiles",
        help="the column of --input that holds the SMILES (default: smiles)",
    )
    parser.add_argument(
        "--output", required=True, type=Path, metavar="DIR", help="directory for the files"
    )
    parser.add_argument(
        "--kind",
        choices=DRAW_KINDS,
        default="atoms",
        help="atoms: atoms coloured by their contribution (default); attention: the "
        "attention of one atom (--atom) to every atom, in one layer (--layer)",
    )
    parser.add_argument("--format", choices=("png", "svg"), default="png", help="image format")
    parser.add_argument(
        "--target",
        nargs="+",
        metavar="NAME",
        help="targets to draw (default: every target of the model)",
    )
    parser.add_argument(
        "--units",
        nargs="+",
        default=[],
        metavar="TARGET=UNIT",
        help="units of targets for the colour bars, e.g. tpsa=Å² (default: none shown)",
    )
    parser.add_argument(
        "--atom",
        type=int,
        default=None,
        help="--kind attention: the attending atom (default, and for molecules with fewer "
        "atoms: the atom with the largest absolute contribution)",
    )
    parser.add_argument(
        "--layer", type=int, default=-1, help="--kind attention: the layer (default: -1, the last)"
    )
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(500, 400),
        metavar=("WIDTH", "HEIGHT"),
        help="image size in pixels (default: 500 400)",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device for the model, e.g. cpu, cuda (default: cpu)"
    )
    add_threads_option(parser)
    parser.add_argument(
        "--strict",
        action="store_true",
        help=f"any row that cannot be explained is an error: list them, write nothing, "
        f"exit {EXIT_INVALID_ROWS}",
    )
    return parser


def image_name(row: int, target: str, several: bool, fmt: str) -> str:
    """``mol_0001.png`` (1-based input row), or ``mol_0001_<target>.png`` for several targets."""
    if not several:
        return f"mol_{row:04d}.{fmt}"
    return f"mol_{row:04d}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', target)}.{fmt}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see ``--help``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    apply_threads(parser, args)
    units = parse_units(parser, args.units)
    if min(args.size) < 100:
        parser.error(f"--size must be at least 100 100, got {args.size[0]} {args.size[1]}")

    try:
        if args.input is not None:
            _, smiles = read_input(args.input, args.smiles_column)
            source = str(args.input)
        else:
            smiles = list(args.smiles)
            source = "--smiles"
        model = load_checkpoint(args.checkpoint, device=args.device)  # one model, not an ensemble
        targets = args.target or model.target_names
        unknown = [t for t in targets if t not in model.target_names]
        if unknown:
            raise ValueError(
                f"unknown target(s) {', '.join(unknown)}: the model predicts "
                f"{', '.join(model.target_names)}"
            )
    except (CheckpointError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE

    explanations = model.explain_many(smiles)
    invalid = [(i, e) for i, e in enumerate(explanations) if e.error]
    summary = (
        f"{source}: {len(explanations)} rows, {len(explanations) - len(invalid)} explained, "
        f"{len(invalid)} invalid"
    )
    listing = [f"  row {i + 1}: {e.smiles!r}: {e.error}" for i, e in invalid]
    if args.strict and invalid:
        print(f"error: {summary}; --strict, so nothing is written:", file=sys.stderr)
        print("\n".join(listing), file=sys.stderr)
        return EXIT_INVALID_ROWS

    try:
        args.output.mkdir(parents=True, exist_ok=True)
        tables, images = [], 0
        for i, explanation in enumerate(explanations):
            row = i + 1
            if explanation.error:
                tables.append(
                    pd.DataFrame(
                        [{"row": row, "smiles": smiles[i], ERROR_COLUMN: explanation.error}]
                    )
                )
                continue
            table = explanation.long_table()
            table = table[table["target"].isin(targets)]
            table.insert(0, "row", row)
            table[ERROR_COLUMN] = ""
            tables.append(table)
            for target in targets:
                name = image_name(row, target, len(targets) > 1, args.format)
                explanation.draw(
                    kind=args.kind,
                    atom=_atom(args.atom, explanation.num_atoms),
                    layer=args.layer,
                    size=tuple(args.size),
                    path=args.output / name,
                    target=target,
                    units=units.get(target),
                )
                images += 1
        out = pd.concat(tables, ignore_index=True).reindex(columns=COLUMNS)
        out["atom"] = out["atom"].astype("Int64")
        out.to_csv(args.output / CONTRIBUTIONS_FILE, index=False)
    except OSError as err:
        print(f"error: cannot write to {args.output}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as err:  # --layer or --atom out of range
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{summary}; {images} images and {CONTRIBUTIONS_FILE} written to {args.output}",
        file=sys.stderr,
    )
    if listing:
        extra = len(listing) - MAX_LISTED_ROWS
        shown = listing[:MAX_LISTED_ROWS] + ([f"  ... and {extra} more rows"] if extra > 0 else [])
        print("\n".join(shown), file=sys.stderr)
    return EXIT_OK


def _atom(atom: int | None, num_atoms: int) -> int | None:
    """``--atom`` for a molecule: out of range for this molecule -> its default atom."""
    if atom is None or 0 <= atom < num_atoms:
        return atom
    return None
