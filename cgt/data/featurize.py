"""SMILES -> :class:`~cgt.data.molgraph.MolGraph`: parsing, rings, featurizer fields.

Single molecules go through :func:`featurize_smiles`; many molecules through
:func:`featurize_many` (or :class:`SmilesParser` + :func:`graph_arrays`), which capture
RDKit's error log once for the whole loop instead of once per molecule.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from types import TracebackType

import numpy as np
import torch
from rdkit import Chem, rdBase

from cgt.data.featurizers import get_featurizer
from cgt.data.molgraph import MolGraph
from cgt.errors import InvalidSmilesError, MoleculeError

__all__ = [
    "SmilesParser",
    "parse_smiles",
    "ring_fields",
    "graph_arrays",
    "arrays_to_graph",
    "featurize_smiles",
    "featurize_many",
]

_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\] ?")
# RDKit's log capture is a process-wide stack: captures must be left in the order they
# were entered. Parsing holds the GIL anyway, so serialising it costs no parallelism.
_CAPTURE_LOCK = threading.RLock()
# Parsing only: SmilesParser.parse removes hydrogens and sanitizes itself (see there).
_UNSANITIZED = Chem.SmilesParserParams()
_UNSANITIZED.sanitize = False
_UNSANITIZED.removeHs = False


def _rdkit_reason(log: str, smiles: str) -> str:
    """RDKit's error log as one line: timestamps, repeats and caret drawings removed."""
    lines: list[str] = []
    for line in log.splitlines():
        line = _TIMESTAMP.sub("", line).strip()
        if line and line not in lines and line != smiles and set(line) - set("~^ "):
            lines.append(line)
    return "; ".join(lines) or "RDKit could not parse it"


class SmilesParser:
    """Parses SMILES with RDKit while capturing its error log (use as a context manager).

    Example::

        with SmilesParser() as parser:
            mols = [parser.parse(s) for s in smiles]
    """

    def __enter__(self) -> SmilesParser:
        _CAPTURE_LOCK.acquire()
        try:
            self._capture = rdBase.CaptureErrorLog()
            self._capture.__enter__()
        except BaseException:
            _CAPTURE_LOCK.release()
            raise
        self._seen = 0
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._capture.__exit__(kind, error, traceback)
        finally:
            _CAPTURE_LOCK.release()

    def parse(self, smiles: str) -> Chem.Mol:
        """Parses and sanitizes one SMILES.

        The molecule is the one ``Chem.MolFromSmiles`` gives (explicit hydrogen atoms
        removed and counted on their neighbours, fully sanitized) without its stereo
        perception (CIP labels, cleaning of chiral tags), which no featurizer reads. Skipping
        that, and the hydrogen removal where there are no hydrogen atoms, saves about a third
        of ``Chem.MolFromSmiles``'s time.

        Raises:
            InvalidSmilesError: empty input, a molecule without atoms, or anything RDKit
                rejects; the message carries RDKit's own reason.
            TypeError: ``smiles`` is not a string.
        """
        if not isinstance(smiles, str):
            raise TypeError(f"a SMILES must be a str, got {type(smiles).__name__}: {smiles!r}")
        if not smiles.strip():
            raise InvalidSmilesError(smiles, "empty SMILES")
        mol = Chem.MolFromSmiles(smiles, _UNSANITIZED)
        if mol is None:
            raise InvalidSmilesError(smiles, self._logged_reason(smiles))
        if mol.GetNumAtoms() == 0:
            raise InvalidSmilesError(smiles, "the molecule has no atoms")
        try:
            if mol.GetNumHeavyAtoms() != mol.GetNumAtoms():
                mol = Chem.RemoveHs(mol, updateExplicitCount=True, sanitize=False)
            Chem.SanitizeMol(mol)
        except Chem.MolSanitizeException as error:
            raise InvalidSmilesError(smiles, self._logged_reason(smiles, str(error))) from None
        return mol

    def _logged_reason(self, smiles: str, fallback: str = "") -> str:
        """What RDKit logged since the last reason was read, as one line (else ``fallback``)."""
        messages = self._capture.messages
        log = messages[self._seen :]
        self._seen = len(messages)
        return _rdkit_reason(log, smiles) if log.strip() or not fallback else fallback


def parse_smiles(smiles: str) -> Chem.Mol:
    """Parses and sanitizes one SMILES (see :meth:`SmilesParser.parse`)."""
    with SmilesParser() as parser:
        return parser.parse(smiles)


def ring_fields(mol: Chem.Mol) -> dict[str, np.ndarray]:
    """The rings RDKit perceives while sanitizing (read before any kekulization).

    These are ``mol.GetRingInfo().AtomRings()``: RDKit's symmetrized SSSR, which keeps
    all symmetry-equivalent smallest rings (adamantane: 4 rings, not an arbitrary 3), so
    the rings do not depend on the atom order.

    Returns:
        ``ring_index`` int64 ``[2, M]`` (atom, ring id), ``ring_size`` int64 ``[R]``,
        ``ring_aromatic`` bool ``[R]`` (every bond of the ring is aromatic).
    """
    rings = mol.GetRingInfo().AtomRings()
    if not rings:
        return {
            "ring_index": np.zeros((2, 0), dtype=np.int64),
            "ring_size": np.zeros(0, dtype=np.int64),
            "ring_aromatic": np.zeros(0, dtype=bool),
        }
    # Plain lists: molecules have few rings, and numpy calls cost more than they save.
    atoms: list[int] = []
    ring_ids: list[int] = []
    following: list[int] = []  # ring atoms come in ring order: atom k is bonded to k+1
    starts: list[int] = []
    for ring_id, ring in enumerate(rings):
        starts.append(len(atoms))
        atoms.extend(ring)
        following.extend(ring[1:])
        following.append(ring[0])
        ring_ids.extend([ring_id] * len(ring))
    orders = Chem.GetAdjacencyMatrix(mol, useBO=True, force=True)[atoms, following]
    return {
        "ring_index": np.array((atoms, ring_ids), dtype=np.int64),
        "ring_size": np.array([len(ring) for ring in rings], dtype=np.int64),
        "ring_aromatic": np.logical_and.reduceat(orders == 1.5, starts),
    }


def graph_arrays(
    smiles: str, featurizer: str = "zinc", parser: SmilesParser | None = None
) -> dict[str, np.ndarray]:
    """The fields of :func:`featurize_smiles` as numpy arrays, without ``smiles``.

    ``num_nodes`` is a 0-d int64 array. ``parser``: an entered :class:`SmilesParser` to
    reuse (faster in loops); by default one is opened for this call.
    """
    chosen = get_featurizer(featurizer)
    if parser is None:
        mol = parse_smiles(smiles)
    else:
        mol = parser.parse(smiles)
    fields = ring_fields(mol)
    fields.update(chosen.featurize(mol, smiles))
    fields["num_nodes"] = np.array(mol.GetNumAtoms(), dtype=np.int64)
    return fields


def arrays_to_graph(fields: dict[str, np.ndarray], smiles: str) -> MolGraph:
    """Wraps the arrays of :func:`graph_arrays` into a :class:`MolGraph` (no copies).

    The same graph as ``MolGraph(**tensors, num_nodes=..., smiles=...)``, with its storage
    filled in one step: PyG's attribute setters cost ~3 µs per field, about a tenth of
    featurizing a molecule.
    """
    graph = MolGraph()
    graph._store._mapping.update(
        {key: torch.from_numpy(value) for key, value in fields.items() if key != "num_nodes"},
        num_nodes=int(fields["num_nodes"]),
        smiles=smiles,
    )
    return graph


def featurize_smiles(smiles: str, featurizer: str = "zinc") -> MolGraph:
    """Parses a SMILES and builds its graph with the named featurizer.

    Args:
        smiles: one molecule.
        featurizer: a name registered in :data:`cgt.data.featurizers.FEATURIZERS`
            (``"zinc"`` or ``"atom"``).

    Returns:
        A :class:`MolGraph` with ``num_nodes``, ``smiles``, ``edge_index`` Long[2, E],
        ``bond_type`` Long[E], ``ring_index`` Long[2, M], ``ring_size`` Long[R],
        ``ring_aromatic`` Bool[R] and the featurizer's fields (``atom_type`` Long[n] for
        "zinc"; ``x`` Long[n, F] and ``edge_attr`` Long[E, Fb] for "atom").

    Raises:
        InvalidSmilesError: RDKit rejects the SMILES (or it is empty).
        VocabularyError: an atom or bond is outside the featurizer's vocabulary.
        ValueError: unknown featurizer name.
    """
    return arrays_to_graph(graph_arrays(smiles, featurizer), smiles)


def featurize_many(
    smiles: Iterable[str], featurizer: str = "zinc"
) -> list[MolGraph | MoleculeError]:
    """Featurizes many SMILES; a molecule that fails gives its error in its place.

    Returns:
        One entry per input, in input order: a :class:`MolGraph`, or the
        :class:`~cgt.errors.MoleculeError` (invalid SMILES, atom outside the vocabulary)
        that explains why that molecule has no graph.
    """
    get_featurizer(featurizer)
    texts = list(smiles)
    fields: list[dict[str, np.ndarray] | MoleculeError] = []
    with SmilesParser() as parser:
        for text in texts:
            try:
                fields.append(graph_arrays(text, featurizer, parser))
            except MoleculeError as error:
                fields.append(error)
    # Wrapped in a second pass: alternating RDKit and PyG work per molecule is ~8% slower.
    return [
        value if isinstance(value, MoleculeError) else arrays_to_graph(value, text)
        for value, text in zip(fields, texts, strict=True)
    ]
