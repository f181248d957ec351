"""Molecule errors: what they carry, and that they cross process boundaries."""

from __future__ import annotations

import pickle

from cgt.errors import InvalidSmilesError, VocabularyError


def test_errors_survive_pickling() -> None:
    """DataLoader workers and multiprocessing send errors between processes."""
    for error in (
        InvalidSmilesError("C1CC", "unclosed ring"),
        VocabularyError("[Se]", "atom", 0, "Se, charge +0, 0 explicit H", "zinc", "not in it"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert copy.__dict__ == error.__dict__
