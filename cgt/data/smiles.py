"""Parsing SMILES with RDKit: one sanitized molecule, or an error that says why.

:class:`SmilesParser` captures RDKit's error log while it parses, so that each
:class:`~cgt.errors.InvalidSmilesError` carries RDKit's own reason for its SMILES;
:func:`parse_smiles` parses one string.
"""

from __future__ import annotations

import re
import threading
from types import TracebackType

from rdkit import Chem, rdBase

from cgt.errors import InvalidSmilesError, MoleculeTooLargeError

__all__ = ["SmilesParser", "parse_smiles", "CHARACTERS_PER_ATOM"]

#: With a ``max_atoms`` limit, a SMILES may have this many characters per allowed atom
#: (``[13CH2@@+]%12`` is 13): a longer one cannot be a molecule within the limit.
CHARACTERS_PER_ATOM = 16

_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\] ?")
# RDKit's log capture is a process-wide stack: captures must be left in the order they
# were entered. Parsing holds the GIL anyway, so serialising it costs no parallelism.
_CAPTURE_LOCK = threading.RLock()
# Parsing only: SmilesParser.parse removes hydrogens and sanitizes itself (see there).
_UNSANITIZED = Chem.SmilesParserParams()
_UNSANITIZED.sanitize = False
_UNSANITIZED.removeHs = False


def _unparsable_character(smiles: str) -> str | None:
    """Why RDKit would read ``smiles`` from less than the whole string, else ``None``.

    SMILES is an ASCII notation. RDKit's parser stops, without an error, at the first
    non-ASCII character (``"Cé"`` would be methane) and at the first whitespace (the rest
    is read as a name or a CXSMILES extension: ``"C C"`` would be methane); a lone surrogate
    or a multi-byte character can also make RDKit's logging raise instead of failing. So
    any non-ASCII, control or whitespace character inside the SMILES is refused (whitespace
    around it is not part of it and is ignored).
    """
    for position, char in enumerate(smiles):
        if not char.isascii():
            return (
                f"non-ASCII character {ascii(char)} at position {position} "
                "(SMILES is an ASCII notation)"
            )
        if not char.isprintable() or char.isspace():
            what = "whitespace" if char.isspace() else "control character"
            return (
                f"{what} {ascii(char)} at position {position} (RDKit would ignore the rest "
                "of the string)"
            )
    return None


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

    def parse(self, smiles: str, max_atoms: int | None = None) -> Chem.Mol:
        """Parses and sanitizes one SMILES.

        The molecule is the one ``Chem.MolFromSmiles`` gives (explicit hydrogen atoms
        removed and counted on their neighbours, fully sanitized) without its stereo
        perception (CIP labels, cleaning of chiral tags), which no featurizer reads. Skipping
        that, and the hydrogen removal where there are no hydrogen atoms, saves about a third
        of ``Chem.MolFromSmiles``'s time.

        Raises:
            InvalidSmilesError: empty input; a non-ASCII, control or whitespace character
                inside the SMILES (RDKit would silently read only the part before it); a
                molecule without atoms; or anything RDKit rejects, with RDKit's own reason.
                Whitespace around the SMILES is ignored.
            MoleculeTooLargeError: ``max_atoms`` is given and the SMILES is longer than
                :data:`CHARACTERS_PER_ATOM` characters per allowed atom, or has more heavy
                atoms than ``max_atoms``: refused before RDKit parses it (long unbalanced
                strings take RDKit seconds) or sanitizes it (ring perception of a
                10,000-atom molecule takes seconds).
            TypeError: ``smiles`` is not a string.
        """
        if not isinstance(smiles, str):
            raise TypeError(f"a SMILES must be a str, got {type(smiles).__name__}: {smiles!r}")
        text = smiles.strip(" \t\n\r\f\v")  # ASCII whitespace only
        if not text:
            raise InvalidSmilesError(smiles, "empty SMILES")
        reason = _unparsable_character(text)
        if reason is not None:
            raise InvalidSmilesError(smiles, reason)
        if max_atoms is not None and len(text) > CHARACTERS_PER_ATOM * max_atoms:
            raise MoleculeTooLargeError(
                smiles,
                f"a SMILES of {len(text)} characters, more than {CHARACTERS_PER_ATOM} per atom "
                f"of max_atoms={max_atoms}",
            )
        try:
            mol = Chem.MolFromSmiles(text, _UNSANITIZED)
        except (RuntimeError, ValueError) as error:  # never seen; a bad molecule, not a crash
            raise InvalidSmilesError(smiles, f"RDKit failed: {error}") from None
        if mol is None:
            raise InvalidSmilesError(smiles, self._logged_reason(smiles))
        if mol.GetNumAtoms() == 0:
            raise InvalidSmilesError(smiles, "the molecule has no atoms")
        if max_atoms is not None and mol.GetNumHeavyAtoms() > max_atoms:
            raise MoleculeTooLargeError(
                smiles,
                f"{mol.GetNumHeavyAtoms()} atoms, more than max_atoms={max_atoms} (memory "
                "grows with the square of the atom count)",
            )
        try:
            if mol.GetNumHeavyAtoms() != mol.GetNumAtoms():
                mol = Chem.RemoveHs(mol, updateExplicitCount=True, sanitize=False)
            Chem.SanitizeMol(mol)
        except Chem.MolSanitizeException as error:
            raise InvalidSmilesError(smiles, self._logged_reason(smiles, str(error))) from None
        return mol

    def _logged_reason(self, smiles: str, fallback: str = "") -> str:
        """What RDKit logged since the last reason was read, as one line (else ``fallback``)."""
        try:
            messages = self._capture.messages
        except UnicodeDecodeError:  # RDKit cut a multi-byte character in its log
            messages = ""
        log = messages[self._seen :]
        self._seen = len(messages)
        return _rdkit_reason(log, smiles) if log.strip() or not fallback else fallback


def parse_smiles(smiles: str) -> Chem.Mol:
    """Parses and sanitizes one SMILES (see :meth:`SmilesParser.parse`)."""
    with SmilesParser() as parser:
        return parser.parse(smiles)
