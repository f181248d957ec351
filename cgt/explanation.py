"""Why a prediction: every atom's exact share of it, and what each atom attends to.

The CGT's head is a per-atom MLP followed by a sum (or mean) over the atoms
(docs/design.md §3), so a prediction *is* a sum over atoms: for sum pooling and a
regression target with training mean ``μ`` and standard deviation ``σ``

    prediction = Σ_i σ · head(h_i) + μ

and atom ``i``'s contribution is ``σ · head(h_i)`` in target units, with the constant
``μ`` belonging to no atom. For mean pooling each atom's output is divided by the number of
atoms ``n`` first. Nothing is approximated: the contributions plus the constant equal the
prediction (up to float rounding). For classification the sum is the logit (the log-odds of
class 1), not the probability, and the constant is 0.

:func:`explain_graph` computes an :class:`Explanation` for one featurized molecule (in eval
mode, one molecule per forward pass; attention weights from the PyTorch reference formulas);
:meth:`cgt.inference.CGTPredictor.explain` is the usual way in.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import Batch

from cgt.data.molgraph import MolGraph
from cgt.data.smiles import parse_smiles
from cgt.drawing import MoleculeImage, draw_atom_values, image_format
from cgt.model import CGT
from cgt.targets import to_target_units

__all__ = ["Explanation", "explain_graph", "CONSTANT_ELEMENT", "DRAW_KINDS"]

#: ``element`` of the row of :meth:`Explanation.long_table` that holds the constant part.
CONSTANT_ELEMENT = "(constant)"

#: Accepted values of ``kind`` in :meth:`Explanation.draw`.
DRAW_KINDS = ("atoms", "attention")


@dataclass
class Explanation:
    """One molecule's prediction, each atom's share of it, and its attention maps.

    Attributes:
        smiles: the input SMILES.
        task: ``"regression"`` or ``"classification"``.
        target_names: the explained targets.
        prediction: one number per target, as :meth:`~cgt.inference.CGTPredictor.predict`
            gives it (target units; for classification the probability of class 1).
        atom_contributions: one row per atom (RDKit's atom order of the SMILES, hydrogens
            implicit): ``atom`` (index), ``element``, then one column per target with the
            atom's contribution, in target units (regression) or to the logit
            (classification).
        constant: per target, the part of the prediction that belongs to no atom: the
            training mean of the target (regression), 0 for the logit (classification).
        attention: ``[layers, n, n]``: in every layer, row ``i`` holds the attention
            weights of atom ``i`` to every atom of the molecule (itself included), averaged
            over the channels of each head and over the heads; each row sums to 1.
        pooling: the model's pooling, ``"sum"`` or ``"mean"``.
        error: ``""``, or why this molecule could not be explained (then the other fields
            are empty); only :meth:`~cgt.inference.CGTPredictor.explain_many` returns such.
    """

    smiles: str
    task: str
    target_names: list[str]
    prediction: pd.Series
    atom_contributions: pd.DataFrame
    constant: pd.Series
    attention: np.ndarray
    pooling: str = "sum"
    error: str = ""
    _mol: object = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        if self.error:
            return f"Explanation({self.smiles!r}, error={self.error!r})"
        values = ", ".join(f"{k}={v:.4g}" for k, v in self.prediction.items())
        return (
            f"Explanation({self.smiles!r}, {values}, atoms={self.num_atoms}, "
            f"layers={self.attention.shape[0]}, task={self.task!r}, pooling={self.pooling!r})"
        )

    @property
    def explained(self) -> pd.Series:
        """Per target, the sum of the atom contributions and the constant: the prediction
        (regression) or its logit (classification)."""
        return self.atom_contributions[self.target_names].sum(axis=0) + self.constant

    @property
    def num_atoms(self) -> int:
        return len(self.atom_contributions)

    def long_table(self) -> pd.DataFrame:
        """The contributions as rows ``smiles, atom, element, target, contribution``, atoms
        first then one constant row per target (``atom`` empty, ``element``
        ``"(constant)"``), so that the contributions of a molecule and target sum to the
        explained value."""
        rows = []
        for target in self.target_names:
            for atom, element, value in zip(
                self.atom_contributions["atom"],
                self.atom_contributions["element"],
                self.atom_contributions[target],
                strict=True,
            ):
                rows.append((self.smiles, int(atom), element, target, float(value)))
            rows.append(
                (self.smiles, pd.NA, CONSTANT_ELEMENT, target, float(self.constant[target]))
            )
        table = pd.DataFrame(rows, columns=["smiles", "atom", "element", "target", "contribution"])
        table["atom"] = table["atom"].astype("Int64")
        return table

    def draw(
        self,
        kind: str = "atoms",
        atom: int | None = None,
        layer: int = -1,
        size: tuple[int, int] = (500, 400),
        path: str | os.PathLike | None = None,
        target: str | int | None = None,
        units: str | None = None,
    ) -> MoleculeImage:
        """Draws the molecule coloured by the explanation (RDKit, ``rdMolDraw2D``).

        Args:
            kind: ``"atoms"``: every atom coloured by its contribution to ``target``, on a
                blue (lowers it) - white (0) - red (raises it) map symmetric around 0, with
                a colour bar in the target's units. ``"attention"``: ``atom`` in green and
                every other atom coloured by the attention weight it receives from
                ``atom`` in ``layer`` (white 0 to orange, the largest weight).
            atom: the attending atom for ``"attention"``; default: the atom with the
                largest absolute contribution to ``target``.
            layer: the layer for ``"attention"`` (Python indexing: -1 is the last).
            size: ``(width, height)`` in pixels.
            path: also write the image there; its suffix (``.png`` or ``.svg``) chooses
                the format (PNG without a path).
            target: name or position of the target for ``"atoms"`` (default: the first).
            units: the target's units, for the colour bar's label (the model does not know
                them; the contributions are in the target's units, or logit units).

        Returns:
            A :class:`~cgt.drawing.MoleculeImage` (shown inline in Jupyter; ``.save(path)``).
        """
        if self.error:
            raise ValueError(f"cannot draw {self.smiles!r}: {self.error}")
        if kind not in DRAW_KINDS:
            raise ValueError(f"kind must be one of {DRAW_KINDS}, got {kind!r}")
        fmt = image_format(path)
        name = self._target(target)
        values = self.atom_contributions[name].to_numpy(float)
        unit = "logit of " if self.task == "classification" else ""
        if kind == "atoms":
            value, constant = self.explained[name], self.constant[name]
            shown = name if self.task == "regression" else f"logit({name})"
            title = f"{shown} = {value:.3g}"
            if constant != 0:
                title += f" (atoms {value - constant:+.3g}, constant {constant:.3g})"
            if self.task == "classification":
                title += f" (probability {self.prediction[name]:.2f})"
            if len(self.smiles) + len(title) <= 52:
                title = f"{self.smiles}: {title}"
            image = draw_atom_values(
                self._molecule(),
                values,
                label=f"atom contribution to {unit}{name}" + (f" ({units})" if units else ""),
                title=title,
                size=size,
                format=fmt,
            )
        else:
            layers = self.attention.shape[0]
            if not -layers <= layer < layers:
                raise ValueError(f"layer {layer} out of range: the model has {layers} layers")
            if atom is None:
                atom = int(np.argmax(np.abs(values)))
            if not 0 <= atom < self.num_atoms:
                raise ValueError(f"atom {atom} out of range: the molecule has {self.num_atoms}")
            shown_layer = layer % layers
            element = self.atom_contributions["element"].iloc[atom]
            image = draw_atom_values(
                self._molecule(),
                self.attention[layer, atom],
                label=f"attention from atom {atom} ({element}), layer {shown_layer + 1}/{layers}",
                title=f"self-attention of atom {atom}: {self.attention[layer, atom, atom]:.2f}",
                diverging=False,
                highlight=atom,
                size=size,
                format=fmt,
            )
        if path is not None:
            image.save(path)
        return image

    def _target(self, target: str | int | None) -> str:
        if target is None:
            return self.target_names[0]
        if isinstance(target, int):
            return self.target_names[target]
        if target not in self.target_names:
            raise ValueError(f"unknown target {target!r}; the explanation has {self.target_names}")
        return target

    def _molecule(self):
        if self._mol is None:
            self._mol = parse_smiles(self.smiles)
        return self._mol


def explain_graph(
    model: CGT,
    graph: MolGraph,
    task: str,
    target_names: Sequence[str],
    mean: Tensor | None = None,
    std: Tensor | None = None,
    targets: Sequence[int] | None = None,
) -> Explanation:
    """Explains the model's prediction for one featurized molecule.

    Args:
        model: the CGT (put in eval mode here: no dropout, BatchNorm running statistics).
        graph: the molecule's graph (:func:`cgt.data.featurize_smiles`); its atoms are
            those of RDKit's molecule of ``graph.smiles``, in order.
        task, target_names, mean, std: what the outputs mean (see :mod:`cgt.targets`).
        targets: positions of the targets to explain (default: all).

    Returns:
        An :class:`Explanation` (see the module docstring for the decomposition).
    """
    model.eval()
    device = next(model.parameters()).device
    batch = Batch.from_data_list([graph]).to(device)
    recorded: list[Tensor] = []
    with torch.inference_mode():
        # The model in its dtype; the sums and de-normalisation in float64, so that the
        # contributions add up to the prediction to float64 rounding.
        nodes = model.node_outputs(batch, attention=recorded).double()  # [n, T]
        pooled = model.head.pool(nodes, batch.batch, 1)
        mean64 = None if mean is None else mean.double()
        std64 = None if std is None else std.double()
        prediction = to_target_units(pooled, task, mean64, std64)[0].cpu().numpy()
    n = nodes.shape[0]
    per_atom = nodes.cpu().numpy()
    if model.head.pooling == "mean":
        per_atom = per_atom / n
    if task == "regression":
        per_atom = per_atom * std.double().cpu().numpy()
        constant = mean.double().cpu().numpy()
    else:
        constant = np.zeros(per_atom.shape[1])
    attention = torch.stack([a.mean(-1) for a in recorded]).view(len(recorded), n, n)

    chosen = list(range(len(target_names))) if targets is None else list(targets)
    names = [target_names[k] for k in chosen]
    mol = parse_smiles(graph.smiles)
    table = pd.DataFrame(
        {
            "atom": np.arange(n),
            "element": [atom.GetSymbol() for atom in mol.GetAtoms()],
            **{name: per_atom[:, k] for name, k in zip(names, chosen, strict=True)},
        }
    )
    return Explanation(
        smiles=graph.smiles,
        task=task,
        target_names=names,
        prediction=pd.Series(prediction[chosen], index=names, dtype=float),
        atom_contributions=table,
        constant=pd.Series(constant[chosen], index=names, dtype=float),
        attention=attention.double().cpu().numpy(),
        pooling=model.head.pooling,
        _mol=mol,
    )


def failed_explanation(smiles: str, reason: str, task: str, target_names: Sequence[str]):
    """The :class:`Explanation` of a molecule that could not be explained: empty fields,
    NaN predictions and the reason in ``error``."""
    names = list(target_names)
    return Explanation(
        smiles=smiles,
        task=task,
        target_names=names,
        prediction=pd.Series(np.nan, index=names, dtype=float),
        atom_contributions=pd.DataFrame(
            {"atom": pd.Series(dtype=int), "element": pd.Series(dtype=object)}
            | {name: pd.Series(dtype=float) for name in names}
        ),
        constant=pd.Series(np.nan, index=names, dtype=float),
        attention=np.zeros((0, 0, 0)),
        error=reason,
    )
