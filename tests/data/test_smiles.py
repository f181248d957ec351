"""Parsing SMILES: errors that name the input and carry RDKit's reason."""

from __future__ import annotations

import threading

import pytest

from cgt.data import SmilesParser, featurize_smiles, parse_smiles
from cgt.errors import InvalidSmilesError


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("", "empty SMILES"),
        ("   ", "empty SMILES"),
        ("C1CC", "unclosed ring"),
        ("CN(C)(C)(C)C", "Explicit valence for atom # 1 N, 5"),
        ("c1cccc1", "Can't kekulize mol"),
        ("Cxx", "syntax error while parsing: Cxx"),
    ],
)
def test_invalid_smiles_name_the_input_and_rdkit_reason(smiles: str, reason: str) -> None:
    with pytest.raises(InvalidSmilesError) as info:
        featurize_smiles(smiles)
    error = info.value
    assert isinstance(error, ValueError) and error.smiles == smiles
    assert reason in error.reason and reason in str(error) and repr(smiles) in str(error)
    assert "[" not in error.reason.split(":")[0]  # RDKit's timestamps are stripped


def test_parse_smiles_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="got NoneType"):
        parse_smiles(None)  # type: ignore[arg-type]


def test_parser_attributes_each_reason_to_its_own_smiles() -> None:
    with SmilesParser() as parser:
        with pytest.raises(InvalidSmilesError, match="unclosed ring") as first:
            parser.parse("C1CC")
        assert parser.parse("CCO").GetNumAtoms() == 3
        with pytest.raises(InvalidSmilesError) as second:
            parser.parse("CN(C)(C)(C)C")
    assert "unclosed" not in second.value.reason and "valence" in second.value.reason
    assert "valence" not in first.value.reason


def test_parsing_from_threads() -> None:
    """The log capture is process-wide; concurrent parsing must neither crash nor mix up."""
    failures: list[str] = []

    def work() -> None:
        for _ in range(50):
            try:
                parse_smiles("C1CC")
            except InvalidSmilesError as error:
                if "unclosed ring" not in error.reason:
                    failures.append(error.reason)
            if parse_smiles("CCN").GetNumAtoms() != 3:
                failures.append("CCN")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
