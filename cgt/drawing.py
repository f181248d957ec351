"""Molecules drawn with one colour per atom and a colour bar, with RDKit's ``rdMolDraw2D``.

:func:`draw_atom_values` colours each atom of a molecule by a number (a contribution to a
prediction on a diverging map centred on 0, or an attention weight on a sequential map),
adds a colour bar that says what the colours mean, and returns a :class:`MoleculeImage`:
PNG (Cairo) or SVG, shown inline by Jupyter, written to a file with :meth:`~MoleculeImage.save`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem.Draw import rdMolDraw2D
from rdkit.Geometry import Point2D

__all__ = ["IMAGE_FORMATS", "MoleculeImage", "draw_atom_values", "image_format"]

#: Image formats, by file suffix.
IMAGE_FORMATS = ("png", "svg")

#: Colour of a highlighted atom (the query atom of an attention picture): green.
HIGHLIGHT = (0.1, 0.75, 0.2)

# Diverging map: blue (negative) - white (0) - red (positive), ColorBrewer RdBu without
# its darkest ends (black atom labels stay readable on every colour).
_DIVERGING = [
    (0.129, 0.400, 0.675),
    (0.263, 0.576, 0.765),
    (0.573, 0.773, 0.871),
    (0.820, 0.898, 0.941),
    (0.969, 0.969, 0.969),
    (0.992, 0.859, 0.780),
    (0.957, 0.647, 0.510),
    (0.839, 0.376, 0.302),
    (0.698, 0.094, 0.169),
]
# Sequential map: white to dark orange (ColorBrewer Oranges).
_SEQUENTIAL = [
    (1.000, 0.961, 0.922),
    (0.996, 0.902, 0.808),
    (0.992, 0.816, 0.635),
    (0.992, 0.682, 0.420),
    (0.992, 0.553, 0.235),
    (0.945, 0.412, 0.075),
    (0.851, 0.282, 0.004),
]


@dataclass(frozen=True)
class MoleculeImage:
    """A drawn molecule: PNG bytes or SVG text.

    Shows itself in Jupyter (``_repr_png_`` / ``_repr_svg_``).

    Attributes:
        data: the PNG file's bytes, or the SVG document.
        format: ``"png"`` or ``"svg"``.
        size: ``(width, height)`` in pixels.
    """

    data: bytes | str
    format: str
    size: tuple[int, int]

    def save(self, path: str | os.PathLike) -> Path:
        """Writes the image to ``path`` (its suffix should match :attr:`format`)."""
        path = Path(path)
        if isinstance(self.data, str):
            path.write_text(self.data)
        else:
            path.write_bytes(self.data)
        return path

    def _repr_png_(self) -> bytes | None:
        return self.data if self.format == "png" else None

    def _repr_svg_(self) -> str | None:
        return self.data if self.format == "svg" else None


def image_format(path: str | os.PathLike | None, default: str = "png") -> str:
    """``"png"`` or ``"svg"`` from a file's suffix (``default`` when ``path`` is None).

    Raises:
        ValueError: another suffix.
    """
    if path is None:
        return default
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in IMAGE_FORMATS:
        raise ValueError(f"cannot draw {path}: the suffix must be .png or .svg")
    return suffix


def colour(value: float, vmin: float, vmax: float, diverging: bool) -> tuple[float, float, float]:
    """The RGB colour (0-1) of ``value`` on the scale ``[vmin, vmax]``."""
    stops = _DIVERGING if diverging else _SEQUENTIAL
    t = 0.5 if vmax <= vmin else (value - vmin) / (vmax - vmin)
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    low = min(int(t), len(stops) - 2)
    frac = t - low
    a, b = stops[low], stops[low + 1]
    return tuple(float(x + (y - x) * frac) for x, y in zip(a, b, strict=True))


def draw_atom_values(
    mol: Chem.Mol,
    values: Sequence[float],
    *,
    label: str,
    title: str = "",
    diverging: bool = True,
    highlight: int | None = None,
    size: tuple[int, int] = (500, 400),
    format: str = "png",
) -> MoleculeImage:
    """Draws ``mol`` with atom ``i`` coloured by ``values[i]`` and a colour bar.

    Args:
        mol: an RDKit molecule (hydrogens implicit); atom ``i`` takes ``values[i]``.
        values: one number per atom.
        label: what the colour bar shows (e.g. ``"contribution to logP"``).
        title: a line under the molecule (e.g. the prediction).
        diverging: a blue-white-red map symmetric around 0 (contributions); else a
            white-orange map from 0 to the largest value (attention weights).
        highlight: an atom drawn in green instead of its value's colour (and marked with
            its index), e.g. the atom whose attention is shown; its value is not drawn.
        size: ``(width, height)`` of the image in pixels.
        format: ``"png"`` or ``"svg"``.

    Returns:
        A :class:`MoleculeImage` of exactly ``size``.
    """
    width, height = (int(x) for x in size)
    if width < 100 or height < 100:
        raise ValueError(f"size must be at least 100 x 100 pixels, got {size}")
    if format not in IMAGE_FORMATS:
        raise ValueError(f"format must be one of {IMAGE_FORMATS}, got {format!r}")
    values = np.asarray(values, dtype=float)
    if values.shape != (mol.GetNumAtoms(),):
        raise ValueError(f"{len(values)} values for a molecule of {mol.GetNumAtoms()} atoms")
    shown = np.delete(values, highlight) if highlight is not None else values
    finite = shown[np.isfinite(shown)]
    if diverging:
        vmax = float(np.abs(finite).max()) if finite.size else 0.0
        vmax = vmax if vmax > 0 else 1.0
        vmin = -vmax
    else:
        vmin, vmax = 0.0, float(finite.max()) if finite.size else 0.0
        vmax = vmax if vmax > 0 else 1.0

    bar_height = max(56, height // 6)
    mol = Chem.Mol(mol)
    if highlight is not None:
        mol.GetAtomWithIdx(highlight).SetProp("atomNote", str(highlight))
    if format == "png":
        drawer = rdMolDraw2D.MolDraw2DCairo(width, height, width, height - bar_height)
    else:
        drawer = rdMolDraw2D.MolDraw2DSVG(width, height, width, height - bar_height)
    options = drawer.drawOptions()
    options.atomHighlightsAreCircles = True
    options.fillHighlights = True
    options.highlightRadius = 0.4
    # small molecules are not blown up to fill the canvas (at most ~1/6 of it per bond)
    options.fixedBondLength = max(20.0, min(width, height - bar_height) / 6)
    options.legendFontSize = max(12, min(18, width // 30))
    options.legendFraction = 0.12
    options.setBackgroundColour((1.0, 1.0, 1.0, 1.0))
    colours = {
        i: HIGHLIGHT if i == highlight else colour(v, vmin, vmax, diverging)
        for i, v in enumerate(values)
        if np.isfinite(v) or i == highlight
    }
    prepared = rdMolDraw2D.PrepareMolForDrawing(mol, addChiralHs=False)
    drawer.DrawMolecule(
        prepared,
        highlightAtoms=list(colours),
        highlightAtomColors=colours,
        highlightBonds=[],
        legend=title,
    )
    _colour_bar(drawer, width, height, bar_height, vmin, vmax, diverging, label)
    drawer.FinishDrawing()
    return MoleculeImage(drawer.GetDrawingText(), format, (width, height))


def _colour_bar(drawer, width, height, bar_height, vmin, vmax, diverging, label) -> None:
    """A horizontal colour bar in the bottom ``bar_height`` pixels, labelled."""
    margin = max(30, width // 10)
    top = height - bar_height + 4
    thickness = max(10, bar_height // 5)
    font = max(12, min(18, width // 28))
    drawer.SetFontSize(font)
    drawer.SetColour((0.1, 0.1, 0.1))
    drawer.DrawString(label, Point2D(width / 2, top + font * 0.6), 0, True)
    bar_top = top + font * 1.4
    steps = 64
    span = (width - 2 * margin) / steps
    drawer.SetFillPolys(True)
    for k in range(steps):
        value = vmin + (vmax - vmin) * (k + 0.5) / steps
        drawer.SetColour(colour(value, vmin, vmax, diverging))
        left = margin + k * span
        drawer.DrawRect(
            Point2D(left, bar_top), Point2D(left + span + 0.6, bar_top + thickness), True
        )
    drawer.SetFillPolys(False)
    drawer.SetColour((0.3, 0.3, 0.3))
    drawer.DrawRect(Point2D(margin, bar_top), Point2D(width - margin, bar_top + thickness), True)
    drawer.SetColour((0.1, 0.1, 0.1))
    ticks = (vmin, 0.0, vmax) if diverging else (vmin, vmax / 2, vmax)
    for value in ticks:
        x = margin + (value - vmin) / (vmax - vmin) * (width - 2 * margin)
        drawer.DrawString(_tick(value), Point2D(x, bar_top + thickness + font * 0.8), 0, True)


def _tick(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:+.3g}" if abs(value) >= 1e-3 else f"{value:+.1e}"
