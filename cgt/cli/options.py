"""Options shared by the command lines: PyTorch's CPU threads and target units."""

from __future__ import annotations

import argparse

import torch

__all__ = ["add_threads_option", "apply_threads", "parse_units"]


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """Adds ``--threads N`` (CPU threads for PyTorch)."""
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for PyTorch (default: PyTorch's choice; 1 is faster on a busy machine)",
    )


def apply_threads(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Sets PyTorch's CPU threads from ``--threads``; a usage error below 1."""
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)


def parse_units(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, str]:
    """``["tpsa=Å²", ...]`` (``--units``) as ``{target: unit}``; a usage error otherwise."""
    units = {}
    for item in items:
        name, sep, unit = item.partition("=")
        if not sep or not name:
            parser.error(f"--units takes TARGET=UNIT, got {item!r}")
        units[name] = unit
    return units
