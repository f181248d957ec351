"""SMILES in, predictions out: load a trained cgt checkpoint and predict new molecules.

    >>> import cgt
    >>> model = cgt.load_model("runs/zinc/checkpoints/best.ckpt")  # doctest: +SKIP
    >>> model.predict(["CCO", "c1ccccc1O", "not a molecule"])  # doctest: +SKIP
                 smiles         y                                         error
    0               CCO  ...
    1         c1ccccc1O  ...
    2    not a molecule       NaN  invalid SMILES: SMILES Parse Error: ...

Every input gives one row, in input order. A molecule that cannot be predicted (invalid
SMILES, empty string, an atom outside the model's vocabulary, a failure of the model on
it) gets NaN predictions and a one-line reason in ``error``; the other rows are unaffected.
The model runs in eval mode, so a molecule's prediction does not depend on the batch size
or on which molecules share its batch (BatchNorm uses its running statistics).

Uncertainty: an ensemble (:func:`load_model` of a run directory with ``ensemble.json`` or of
a list of checkpoints, :class:`cgt.ensemble_predictor.EnsemblePredictor`) or Monte Carlo
dropout (``predict(..., mc_dropout=K)``, :mod:`cgt.mc_dropout`) adds a ``T_std`` column
after each target ``T``: the spread of the members' (or passes') predictions, scaled by the
calibration factor fitted on the validation split when the model carries one
(:mod:`cgt.calibration`; ``calibrated=False`` gives the raw spread).

Embeddings: ``embed(smiles, layer=-1)`` gives each molecule's pooled graph representation
(columns ``emb_0 .. emb_{C-1}``; :meth:`cgt.model.CGT.embed`) with the same rows, order and
``error`` column, for similarity search, clustering or classical models on top.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import Batch

from cgt.checkpoint import CheckpointInfo, model_from_checkpoint
from cgt.data.batching import DEFAULT_MAX_PAIRS, cut_batches
from cgt.data.molgraph import MolGraph
from cgt.data.smiles_to_graph import MAX_ATOMS, arrays_to_graph, featurize_arrays, featurize_many
from cgt.errors import MoleculeError
from cgt.explanation import Explanation, explain_graph, failed_explanation
from cgt.mc_dropout import dropout_active
from cgt.model import CGT
from cgt.pretrained_models import resolve_checkpoint
from cgt.targets import TASKS, to_target_units

__all__ = [
    "CGTPredictor",
    "Featurized",
    "featurize",
    "load_checkpoint",
    "load_model",
    "predict",
    "embedding_columns",
    "ERROR_COLUMN",
    "EMBEDDING_PREFIX",
    "STD_SUFFIX",
]

#: Molecules per forward pass by default: on a CPU, batches of ~32 ZINC-sized molecules
#: predict fastest (larger ones spend their time faulting in fresh memory; measured with
#: ``benchmarks/bench_predict.py --batch-sizes 32 64 128 256``). Raise it on a GPU.
DEFAULT_BATCH_SIZE = 32

#: Name of the column that holds the reason a row could not be predicted.
ERROR_COLUMN = "error"

#: Largest molecule predicted by default (atoms, hydrogens implicit; the data layer's
#: :data:`cgt.data.smiles_to_graph.MAX_ATOMS`). Pair tensors grow with n²; a larger
#: molecule gets a per-row error instead of exhausting memory (peak memory per size: README,
#: "Reliability"). Raise it with ``max_atoms=``.
DEFAULT_MAX_ATOMS = MAX_ATOMS

#: Suffix of the column that holds a target's predicted standard deviation (``y_std``).
STD_SUFFIX = "_std"

#: Prefix of the embedding columns (``emb_0 .. emb_{C-1}``, :meth:`CGTPredictor.embed`).
EMBEDDING_PREFIX = "emb_"


@dataclass
class Featurized:
    """The graphs of the valid inputs and the reason of every invalid one."""

    graphs: list[MolGraph]
    rows: list[int]  # input position of each graph
    errors: dict[int, str]  # input position -> reason


def featurize(
    smiles: Sequence[Any],
    featurizer: str,
    arrays: Sequence[dict[str, np.ndarray] | MoleculeError] | None = None,
    max_atoms: int = DEFAULT_MAX_ATOMS,
) -> Featurized:
    """Featurizes each input for prediction, keeping a one-line reason for every failure.

    A plain function (what :meth:`CGTPredictor.featurize` calls). ``arrays``: the
    :func:`~cgt.data.smiles_to_graph.featurize_arrays` of ``smiles``, computed elsewhere
    (worker processes send numpy arrays: torch tensors would travel as one shared-memory
    file each). A molecule of more than ``max_atoms`` atoms is a failure.
    """
    if arrays is None:
        arrays = featurize_arrays(smiles, featurizer, max_atoms)
    result = Featurized(graphs=[], rows=[], errors={})
    for row, (value, text) in enumerate(zip(arrays, smiles, strict=True)):
        if isinstance(value, MoleculeError):
            result.errors[row] = _one_line(f"{value.kind}: {value.reason}")
        else:
            result.graphs.append(arrays_to_graph(value, text))
            result.rows.append(row)
    return result


class CGTPredictor:
    """A trained CGT ready to predict SMILES (usually made by :func:`load_model`).

    Args:
        model: the :class:`cgt.model.CGT`; it is put in eval mode on ``device``.
        featurizer: featurizer name the model was trained with (``"zinc"``, ``"atom"``).
        target_names: one name per model output ``T``.
        task: ``"regression"`` (outputs are de-normalised with ``target_mean`` /
            ``target_std``) or ``"classification"`` (outputs are probabilities of class 1).
        target_mean, target_std: ``T`` numbers each (regression), or ``None``.
        device: where the model runs.
        std_scale: the calibration factor of each target's predicted standard deviation
            (:mod:`cgt.calibration`), or ``None`` (the raw spread).
    """

    def __init__(
        self,
        model: CGT,
        featurizer: str,
        target_names: Sequence[str],
        task: str,
        target_mean: Sequence[float] | None = None,
        target_std: Sequence[float] | None = None,
        device: str | torch.device = "cpu",
        std_scale: Sequence[float] | None = None,
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if task == "regression" and (target_mean is None or target_std is None):
            raise ValueError("a regression predictor needs target_mean and target_std")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.featurizer = featurizer
        self.target_names = list(target_names)
        self.task = task
        self._mean = None if target_mean is None else self._tensor(target_mean)
        self._std = None if target_std is None else self._tensor(target_std)
        if std_scale is not None and len(std_scale) != len(self.target_names):
            raise ValueError(
                f"std_scale needs one factor per target {self.target_names}, got {list(std_scale)}"
            )
        self.std_scale = None if std_scale is None else np.asarray(std_scale, dtype=np.float64)
        self.checkpoint: CheckpointInfo | None = None

    @property
    def is_ensemble(self) -> bool:
        """Whether predictions come with the members' spread (an ensemble, even of one)."""
        return False

    def num_samples(self, mc_dropout: int = 0) -> int:
        """Predictions per molecule: one per member, times ``mc_dropout`` passes if set."""
        return max(1, mc_dropout)

    def _tensor(self, values: Sequence[float]) -> Tensor:
        """``[T]`` float32 tensor on the predictor's device."""
        return torch.tensor(values, dtype=torch.float32, device=self.device)

    def __repr__(self) -> str:
        source = f", checkpoint={str(self.checkpoint.path)!r}" if self.checkpoint else ""
        return (
            f"CGTPredictor(task={self.task!r}, targets={self.target_names}, "
            f"featurizer={self.featurizer!r}, device={str(self.device)!r}{source})"
        )

    def predict(
        self,
        smiles: str | Iterable[str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool = False,
        max_atoms: int = DEFAULT_MAX_ATOMS,
        max_pairs: int = DEFAULT_MAX_PAIRS,
        mc_dropout: int = 0,
        calibrated: bool = True,
    ) -> pd.DataFrame:
        """Predicts every SMILES; never raises for a bad molecule.

        Args:
            smiles: one SMILES or an iterable of them (a ``pandas.Series`` works).
            batch_size: molecules per forward pass (does not change the results without
                ``mc_dropout``).
            progress: show a progress bar on stderr.
            max_atoms: a molecule with more atoms gets an error row (pair tensors grow
                with the square of the atom count).
            max_pairs: atom pairs (Σ n²) per forward pass; a batch is cut before it would
                exceed them (does not change the results).
            mc_dropout: ``K > 0``: Monte Carlo dropout, ``K`` stochastic passes per model
                with its dropout layers active (attention dropout included; BatchNorm in
                eval mode); needs a model trained with dropout (:mod:`cgt.mc_dropout`).
                ``0``: one deterministic pass.
            calibrated: scale the standard deviations by the calibration factor the model
                carries (if any); ``False`` gives the raw spread.

        Returns:
            A DataFrame with one row per input, in input order: ``smiles`` (the input),
            one float column per target ``T`` (the mean over members and passes), for an
            ensemble or with ``mc_dropout`` a ``T_std`` column after each (their standard
            deviation, in target units; probabilities for classification), and ``error``
            (``""`` where the row is valid; otherwise a one-line reason, and the row's
            predictions are NaN).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_atoms < 1 or max_pairs < 1:
            raise ValueError(f"max_atoms and max_pairs must be at least 1, got {max_atoms}, "
                             f"{max_pairs}")  # fmt: skip
        if mc_dropout < 0:
            raise ValueError(f"mc_dropout must be 0 (off) or a number of passes, got {mc_dropout}")
        inputs = [smiles] if isinstance(smiles, str) else list(smiles)
        values = np.full((len(inputs), len(self.target_names)), np.nan)
        stds = np.full_like(values, np.nan)
        errors = [""] * len(inputs)
        store = _spread_store(values, stds)
        for start, featurized in self._featurized_chunks(inputs, batch_size, max_atoms, progress):
            self._fill(store, errors, start, featurized, batch_size, max_pairs, mc_dropout)
        return self._table(inputs, values, stds, errors, mc_dropout, calibrated)

    def predict_featurized(
        self,
        smiles: Sequence[Any],
        featurized: Featurized,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_pairs: int = DEFAULT_MAX_PAIRS,
        mc_dropout: int = 0,
        calibrated: bool = True,
    ) -> pd.DataFrame:
        """:meth:`predict` of inputs already featurized by :func:`featurize` (e.g. in worker
        processes, see :mod:`cgt.screening`): the same table as ``predict(smiles)``.

        Args:
            smiles: the inputs, as given to :func:`featurize`.
            featurized: ``featurize(smiles, self.featurizer)``.
            batch_size: molecules per forward pass (does not change the results).
            max_pairs: atom pairs (Σ n²) per forward pass, as for :meth:`predict`.
            mc_dropout, calibrated: as for :meth:`predict`.
        """
        if batch_size < 1 or max_pairs < 1:
            raise ValueError(f"batch_size and max_pairs must be at least 1, got {batch_size}, "
                             f"{max_pairs}")  # fmt: skip
        if mc_dropout < 0:
            raise ValueError(f"mc_dropout must be 0 (off) or a number of passes, got {mc_dropout}")
        inputs = list(smiles)
        values = np.full((len(inputs), len(self.target_names)), np.nan)
        stds = np.full_like(values, np.nan)
        errors = [""] * len(inputs)
        store = _spread_store(values, stds)
        self._fill(store, errors, 0, featurized, batch_size, max_pairs, mc_dropout)
        return self._table(inputs, values, stds, errors, mc_dropout, calibrated)

    def embed(
        self,
        smiles: str | Iterable[str],
        layer: int = -1,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool = False,
        max_atoms: int = DEFAULT_MAX_ATOMS,
        max_pairs: int = DEFAULT_MAX_PAIRS,
        numpy: bool = False,
    ) -> pd.DataFrame | np.ndarray:
        """Each molecule's embedding: the graph representation of :meth:`cgt.model.CGT.embed`
        (the node features after CGT layer ``layer``, pooled per molecule with the model's
        sum or mean pooling; ``layer=-1`` is what the head reads). Never raises for a bad
        molecule; the same featurizing, batching and one-line reasons as :meth:`predict`.

        Args:
            smiles: one SMILES or an iterable of them (a ``pandas.Series`` works).
            layer: the CGT layer (0-based, negative counted from the end) whose output is
                pooled; the later layers are not run.
            batch_size, progress, max_atoms, max_pairs: as for :meth:`predict` (they do
                not change the results: the model runs in eval mode).
            numpy: return the ``[n, C]`` array only (no SMILES, no reasons).

        Returns:
            A DataFrame with one row per input, in input order: ``smiles``, ``C`` float32
            columns ``emb_0 .. emb_{C-1}`` (``C``: the model's width) and ``error`` (``""``
            where the row is valid; otherwise a one-line reason, and the row's embedding is
            NaN). With ``numpy=True``: the ``Float32[n, C]`` array, NaN rows for the
            molecules that could not be embedded.

        Raises:
            IndexError: ``layer`` is outside the model's layers (the message gives the range).
        """
        _check_sizes(batch_size, max_pairs, max_atoms)
        self.model.layer_index(layer)  # a bad layer is the caller's error, not every row's
        inputs = [smiles] if isinstance(smiles, str) else list(smiles)
        embeddings = self._embedding_array(len(inputs))
        errors = [""] * len(inputs)
        chunks = self._featurized_chunks(inputs, batch_size, max_atoms, progress, "embedding")
        for start, featurized in chunks:
            self._fill(embeddings.__setitem__, errors, start, featurized, batch_size, max_pairs,
                       layer=layer)  # fmt: skip
        return embeddings if numpy else _embedding_table(inputs, embeddings, errors)

    def embed_featurized(
        self,
        smiles: Sequence[Any],
        featurized: Featurized,
        layer: int = -1,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_pairs: int = DEFAULT_MAX_PAIRS,
    ) -> pd.DataFrame:
        """:meth:`embed` of inputs already featurized by :func:`featurize` (as
        :meth:`predict_featurized`): the same table as ``embed(smiles, layer)``."""
        _check_sizes(batch_size, max_pairs)
        self.model.layer_index(layer)
        inputs = list(smiles)
        embeddings = self._embedding_array(len(inputs))
        errors = [""] * len(inputs)
        self._fill(embeddings.__setitem__, errors, 0, featurized, batch_size, max_pairs,
                   layer=layer)  # fmt: skip
        return _embedding_table(inputs, embeddings, errors)

    def featurize(self, smiles: Sequence[Any], max_atoms: int = DEFAULT_MAX_ATOMS) -> Featurized:
        """Featurizes each input with the model's featurizer, keeping the reason of failures
        (a molecule of more than ``max_atoms`` atoms is one)."""
        return featurize(smiles, self.featurizer, max_atoms=max_atoms)

    def _featurized_chunks(
        self,
        inputs: list[Any],
        batch_size: int,
        max_atoms: int,
        progress: bool,
        action: str = "predicting",
    ) -> Iterator[tuple[int, Featurized]]:
        """``(start, featurized)`` for consecutive chunks of ``batch_size`` inputs, with a
        progress bar (``action`` molecules) on stderr if ``progress``."""
        bar = _progress_bar(len(inputs), progress, action)
        try:
            for start in range(0, len(inputs), batch_size):
                chunk = inputs[start : start + batch_size]
                yield start, self.featurize(chunk, max_atoms)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()

    def _embedding_array(self, rows: int) -> np.ndarray:
        """``Float32[rows, C]`` of NaN, ``C`` the model's width."""
        return np.full((rows, self.model.config["channels"]), np.nan, dtype=np.float32)

    def _fill(
        self,
        store: Callable[[np.ndarray, np.ndarray], None],
        errors: list[str],
        start: int,
        featurized: Featurized,
        batch_size: int,
        max_pairs: int,
        mc_dropout: int = 0,
        layer: int | None = None,
    ) -> None:
        """Runs the model on ``featurized`` (inputs ``start`` onwards) and hands each forward
        pass's outputs to ``store(rows, outputs)`` (rows: input positions; outputs: as
        :meth:`_predict_graphs` gives them); writes the reasons into ``errors``.
        ``batch_size`` graphs per batch, each batch cut into forward passes of at most
        ``max_pairs`` atom pairs (:func:`~cgt.data.batching.cut_batches`)."""
        for row, reason in featurized.errors.items():
            errors[start + row] = reason
        for first in range(0, len(featurized.graphs), batch_size):
            graphs = featurized.graphs[first : first + batch_size]
            sizes = [graph.num_nodes for graph in graphs]
            for low, high in cut_batches(sizes, max_pairs=max_pairs):
                out, failed = self._predict_graphs(graphs[low:high], mc_dropout, layer)
                rows = np.asarray(featurized.rows[first + low : first + high]) + start
                store(rows, out)
                for i, reason in failed.items():
                    errors[rows[i]] = reason

    def _table(
        self,
        inputs: list[Any],
        values: np.ndarray,
        stds: np.ndarray,
        errors: list[str],
        mc_dropout: int,
        calibrated: bool,
    ) -> pd.DataFrame:
        """The prediction table: ``smiles``, each target (and its ``_std`` for an ensemble or
        MC dropout, calibrated unless ``calibrated`` is False), ``error``."""
        columns: dict[str, Any] = {"smiles": pd.Series(inputs, dtype=object)}
        spread = self.is_ensemble or mc_dropout > 0
        if spread and calibrated and self.std_scale is not None:
            stds = stds * self.std_scale
        for k, name in enumerate(self.target_names):  # built at once: models of 100s of targets
            columns[name] = values[:, k]
            if spread:
                columns[name + STD_SUFFIX] = stds[:, k]
        columns[ERROR_COLUMN] = pd.Series(errors, dtype=str)  # text even with no rows
        return pd.DataFrame(columns)

    def explain(self, smiles: str, target: str | int | None = None) -> Explanation:
        """Explains the prediction for one molecule: each atom's exact share, and attention.

        With sum pooling a prediction is the sum over atoms of the head's per-atom output
        (de-normalised: times the target's training std) plus a constant (the training
        mean), so the contributions are exact, not an approximation; with mean pooling each
        atom's output is divided by the number of atoms. **For classification the
        contributions explain the logit** (log-odds of class 1; the constant is 0), while
        :attr:`Explanation.prediction` is the probability, as :meth:`predict` gives it.
        See :mod:`cgt.explanation`.

        Args:
            smiles: one SMILES.
            target: a target name or position to explain only that one (default: all).

        Returns:
            An :class:`~cgt.explanation.Explanation`: ``prediction`` (equal to
            :meth:`predict`'s), ``atom_contributions``, ``constant``, ``attention``
            ``[layers, n, n]``, and ``.draw(...)``.

        Raises:
            InvalidSmilesError: the SMILES cannot be parsed (the error names it).
            VocabularyError: an atom or bond is outside the model's featurizer.
        """
        graph = featurize_many([smiles], self.featurizer)[0]
        if isinstance(graph, MoleculeError):
            raise graph
        return explain_graph(
            self.model,
            graph,
            self.task,
            self.target_names,
            self._mean,
            self._std,
            targets=None if target is None else [self._target_position(target)],
        )

    def explain_many(
        self, smiles: Iterable[str], target: str | int | None = None
    ) -> list[Explanation]:
        """:meth:`explain` for every SMILES, in input order; never raises for a bad molecule:
        its :class:`~cgt.explanation.Explanation` has empty fields and the reason in
        ``error`` (``""`` for the others)."""
        inputs = [smiles] if isinstance(smiles, str) else list(smiles)
        targets = None if target is None else [self._target_position(target)]
        names = self.target_names if targets is None else [self.target_names[targets[0]]]
        out = []
        for text, graph in zip(inputs, featurize_many(inputs, self.featurizer), strict=True):
            if isinstance(graph, MoleculeError):
                reason = _one_line(f"{graph.kind}: {graph.reason}")
                out.append(failed_explanation(str(text), reason, self.task, names))
                continue
            try:
                explanation = explain_graph(
                    self.model, graph, self.task, self.target_names, self._mean, self._std, targets
                )
            except (RuntimeError, ValueError, IndexError) as error:
                reason = _one_line(f"the model failed on this molecule: {error}")
                out.append(failed_explanation(text, reason, self.task, names))
                continue
            if not np.isfinite(explanation.prediction.to_numpy()).all():
                reason = "the model's output is not finite (NaN or infinite)"
                explanation = failed_explanation(text, reason, self.task, names)
            out.append(explanation)
        return out

    def _target_position(self, target: str | int) -> int:
        if isinstance(target, int) and not isinstance(target, bool):
            if not -len(self.target_names) <= target < len(self.target_names):
                raise ValueError(f"target {target} out of range: targets {self.target_names}")
            return target % len(self.target_names)
        if target not in self.target_names:
            raise ValueError(f"unknown target {target!r}: the model predicts {self.target_names}")
        return self.target_names.index(target)

    @torch.inference_mode()
    def forward(self, batch: Batch) -> Tensor:
        """``[B, T]`` predictions for a batch of graphs, in target units (probabilities for
        classification), as ``CGTModule.forward`` computes them."""
        return to_target_units(self.model(batch.to(self.device)), self.task, self._mean, self._std)

    def samples(self, batch: Batch, mc_dropout: int = 0) -> Tensor:
        """``[S, B, T]`` predictions in target units, ``S =`` :meth:`num_samples`: one
        deterministic pass, or ``mc_dropout`` passes with the dropout layers active."""
        if mc_dropout == 0:
            return self.forward(batch)[None]
        with dropout_active(self.model):
            return torch.stack([self.forward(batch) for _ in range(mc_dropout)])

    def _predict_graphs(
        self, graphs: list[MolGraph], mc_dropout: int = 0, layer: int | None = None
    ) -> tuple[np.ndarray, dict[int, str]]:
        """The model's outputs for ``graphs`` and the reasons of graphs it failed on (their
        outputs NaN): predictions ``[len(graphs), S, T]`` (:meth:`samples`), or with
        ``layer`` the embeddings ``[len(graphs), C]`` of that layer (:meth:`CGT.embed`).

        If the batch fails as a whole, each graph is retried alone so that one molecule the
        model cannot take does not take its batch with it.
        """
        failed: dict[int, str] = {}
        if layer is None:
            shape: tuple[int, ...] = (self.num_samples(mc_dropout), len(self.target_names))
        else:
            shape = (self.model.config["channels"],)
        try:
            batch = Batch.from_data_list(graphs)
            if layer is None:
                out = self.samples(batch, mc_dropout).double().cpu().numpy().transpose(1, 0, 2)
            else:
                out = self._embed_batch(batch, layer).double().cpu().numpy()
        except (RuntimeError, ValueError, IndexError) as batch_error:
            if len(graphs) == 1:
                return np.full((1, *shape), np.nan), {
                    0: _one_line(f"the model failed on this molecule: {batch_error}")
                }
            out = np.full((len(graphs), *shape), np.nan)
            for i, graph in enumerate(graphs):
                single, reason = self._predict_graphs([graph], mc_dropout, layer)
                out[i] = single[0]
                if reason:
                    failed[i] = reason[0]
        finite = np.isfinite(out).reshape(len(graphs), -1).all(axis=1)
        for i in np.flatnonzero(~finite):
            if int(i) not in failed:
                failed[int(i)] = "the model's output is not finite (NaN or infinite)"
            out[i] = np.nan
        return out, failed

    @torch.inference_mode()
    def _embed_batch(self, batch: Batch, layer: int) -> Tensor:
        """``[B, C]``: :meth:`cgt.model.CGT.embed` of a batch of graphs."""
        return self.model.embed(batch.to(self.device), layer)


def load_model(
    path: str | os.PathLike | Sequence[str | os.PathLike], device: str | torch.device = "cpu"
) -> CGTPredictor:
    """Loads a cgt checkpoint, or an ensemble of them, for prediction.

    Args:
        path: a checkpoint written by ``python -m cgt.train`` (``best.ckpt``, ...); a run
            directory with ``ensemble.json`` (``python -m cgt.train --ensemble N``); or a
            list of checkpoints trained for the same targets and featurizer (an ensemble);
            or the name of a pretrained model shipped with cgt (:func:`cgt.pretrained`).
        device: where the model runs; tensors are mapped there, so a checkpoint trained
            on a GPU loads on a CPU-only machine with the default ``"cpu"``.

    Returns:
        A :class:`CGTPredictor` (an :class:`~cgt.ensemble_predictor.EnsemblePredictor` for
        a run directory or a list); call ``.predict(smiles)``.

    Raises:
        FileNotFoundError: ``path`` (or a listed checkpoint) does not exist (and is not a
            pretrained model's name).
        ValueError: ``device`` is a CUDA device and CUDA is not available; checkpoints of
            a list that differ in targets, task or featurizer.
        CheckpointError: not a cgt checkpoint, truncated or corrupt, a newer schema, a
            featurizer this cgt does not know or whose vocabulary changed, or weights that
            do not fit the stored model configuration; a pretrained model's file whose size
            or checksum is not the one it shipped with. The message names the file.
    """
    if not isinstance(path, str | os.PathLike) or os.path.isdir(path):
        from cgt.ensemble_predictor import load_ensemble  # it builds on this module

        return load_ensemble(path, device=device)
    return load_checkpoint(path, device=device)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> CGTPredictor:
    """Loads one cgt checkpoint for prediction (see :func:`load_model`); its calibration of
    the Monte Carlo dropout spread, if any, becomes the predictor's ``std_scale``."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was asked for, but CUDA is not available here")
    model, info = model_from_checkpoint(resolve_checkpoint(path), map_location=device)
    predictor = CGTPredictor(
        model,
        featurizer=info.featurizer,
        target_names=info.target_names,
        task=info.task,
        target_mean=info.target_mean,
        target_std=info.target_std,
        device=device,
        std_scale=None if info.calibration is None else info.calibration["std_scale"],
    )
    predictor.checkpoint = info
    return predictor


def predict(
    smiles: str | Iterable[str],
    checkpoint: str | os.PathLike | Sequence[str | os.PathLike],
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device = "cpu",
    mc_dropout: int = 0,
) -> pd.DataFrame:
    """One call: ``load_model(checkpoint, device).predict(smiles, batch_size, mc_dropout=...)``
    (``checkpoint``: anything :func:`load_model` takes)."""
    return load_model(checkpoint, device=device).predict(
        smiles, batch_size=batch_size, mc_dropout=mc_dropout
    )


def _spread_store(values: np.ndarray, stds: np.ndarray) -> Callable[[np.ndarray, np.ndarray], None]:
    """A :meth:`CGTPredictor._fill` store writing the mean and the spread over members and
    passes of predictions ``[n, S, T]`` into rows of ``values`` and ``stds`` ``[N, T]``."""

    def store(rows: np.ndarray, out: np.ndarray) -> None:
        values[rows] = out.mean(axis=1)
        stds[rows] = out.std(axis=1)

    return store


def embedding_columns(width: int) -> list[str]:
    """The names of the ``width`` embedding columns: ``emb_0 .. emb_{width-1}``."""
    return [f"{EMBEDDING_PREFIX}{k}" for k in range(width)]


def _embedding_table(inputs: list[Any], embeddings: np.ndarray, errors: list[str]) -> pd.DataFrame:
    """The embedding table: ``smiles``, ``emb_0 .. emb_{C-1}``, ``error``."""
    columns = pd.DataFrame(embeddings, columns=embedding_columns(embeddings.shape[1]))
    smiles = pd.DataFrame({"smiles": pd.Series(inputs, dtype=object)})
    error = pd.DataFrame({ERROR_COLUMN: pd.Series(errors, dtype=str)})  # text even with no rows
    return pd.concat([smiles, columns, error], axis=1)


def _check_sizes(batch_size: int, max_pairs: int, max_atoms: int = 1) -> None:
    """A :class:`ValueError` unless ``batch_size``, ``max_pairs`` and ``max_atoms`` are at
    least 1."""
    if batch_size < 1 or max_pairs < 1 or max_atoms < 1:
        raise ValueError(f"batch_size, max_pairs and max_atoms must be at least 1, got "
                         f"{batch_size}, {max_pairs}, {max_atoms}")  # fmt: skip


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _progress_bar(total: int, enabled: bool, action: str = "predicting"):
    """A tqdm bar on stderr counting molecules (``action``: its label), or ``None``."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="mol", desc=action, leave=False)
