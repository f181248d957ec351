"""Errors raised for molecules cgt cannot take.

Every error names the offending SMILES and says why, so that a bad row in a file of
thousands can be found and fixed. All are :class:`ValueError` subclasses sharing the base
:class:`MoleculeError`, so ``except MoleculeError`` catches every kind.
"""

from __future__ import annotations

__all__ = [
    "MoleculeError",
    "InvalidSmilesError",
    "VocabularyError",
    "MoleculeTooLargeError",
    "InvalidRowsError",
]


class MoleculeError(ValueError):
    """A molecule that cannot be featurized.

    Attributes:
        smiles: the input string, unchanged.
        reason: one line saying why (without the SMILES).
    """

    kind = "molecule"

    def __init__(self, smiles: str, reason: str) -> None:
        self.smiles = smiles
        self.reason = reason
        super().__init__(f"{self.kind} {smiles!r}: {reason}")

    def __reduce__(self) -> tuple:
        return _rebuild, (type(self), self.__dict__)


def _rebuild(cls: type, state: dict) -> MoleculeError:
    """Unpickles an error (DataLoader workers send errors between processes)."""
    error = cls.__new__(cls)
    error.__dict__.update(state)
    ValueError.__init__(error, f"{error.kind} {error.smiles!r}: {error.reason}")
    return error


class InvalidSmilesError(MoleculeError):
    """RDKit cannot parse or sanitize the SMILES (or it is empty); ``reason`` is RDKit's."""

    kind = "invalid SMILES"


class VocabularyError(MoleculeError):
    """An atom or bond lies outside the featurizer's vocabulary.

    Attributes:
        part: ``"atom"`` or ``"bond"``.
        index: RDKit index of that atom or bond (atoms follow the SMILES order).
        description: readable description, e.g. ``"Se, charge +1, 1 H"``.
        featurizer: name of the featurizer that rejected it.
    """

    kind = "molecule outside the vocabulary"

    def __init__(
        self, smiles: str, part: str, index: int, description: str, featurizer: str, why: str
    ) -> None:
        self.part = part
        self.index = index
        self.description = description
        self.featurizer = featurizer
        super().__init__(
            smiles,
            f"{part} {index} ({description}) is not in the {featurizer!r} featurizer's "
            f"vocabulary: {why}",
        )


class MoleculeTooLargeError(MoleculeError):
    """A molecule with more atoms than allowed: its pair tensors (and the dense matrices of
    featurizing) grow with the square of the atom count."""

    kind = "molecule too large"


class InvalidRowsError(ValueError):
    """Rows of a data file whose molecule cannot be featurized, all listed at once.

    Attributes:
        source: the file (or dataset) the rows come from.
        rows: ``(row, smiles, reason)`` per bad row; ``row`` is the 0-based data row
            (the header not counted), so it is on line ``row + 2`` of a CSV file.
        total: number of data rows in the source.
    """

    def __init__(self, source: str, rows: list[tuple[int, str, str]], total: int) -> None:
        self.source = source
        self.rows = rows
        self.total = total
        listing = "\n".join(
            f"  row {row} (line {row + 2}): {smiles!r}: {reason}" for row, smiles, reason in rows
        )
        super().__init__(
            f"{source}: {len(rows)} of {total} rows cannot be featurized (fix them, or pass "
            f"on_invalid='skip' to leave them out):\n{listing}"
        )

    def __reduce__(self) -> tuple:
        return type(self), (self.source, self.rows, self.total)
