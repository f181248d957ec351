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


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        # RDKit reads these from less than the whole string, without an error: "Cé" would
        # be methane and "CCé" ethane; "C C" methane (the rest is read as a name).
        ("Cé", "non-ASCII character '\\xe9' at position 1"),
        ("CCé", "non-ASCII character '\\xe9' at position 2"),
        ("CCO\u00a0", "non-ASCII character '\\xa0' at position 3"),
        ("C C", "whitespace ' ' at position 1"),
        ("CCO name", "whitespace ' ' at position 3"),
        ("CC\tO", "whitespace '\\t' at position 2"),
        ("C\nO", "whitespace '\\n' at position 1"),
        ("C\x00O", "control character '\\x00' at position 1"),
        ("CC\x7f", "control character '\\x7f' at position 2"),
        # These made RDKit's parser or its log capture raise instead of failing.
        ("C\udc80", "non-ASCII character '\\udc80' at position 1"),
        ("C" * 60 + "ccⲘ", "non-ASCII character '\\u2c98' at position 62"),
    ],
)
def test_refuses_what_rdkit_would_read_only_in_part(smiles: str, reason: str) -> None:
    with pytest.raises(InvalidSmilesError) as info:
        parse_smiles(smiles)
    assert info.value.smiles == smiles and reason in info.value.reason
    assert "\n" not in info.value.reason and "\n" not in str(info.value)
    str(info.value).encode("utf-8")  # the message itself can be written anywhere


def test_every_featurizing_entry_point_refuses_truncated_smiles() -> None:
    from cgt.data import featurize_many
    from cgt.data.smiles_to_graph import featurize_rows, graph_arrays

    for featurizer in ("zinc", "atom"):
        with pytest.raises(InvalidSmilesError, match="non-ASCII"):
            graph_arrays("CCé", featurizer)
        with pytest.raises(InvalidSmilesError, match="non-ASCII"):
            featurize_smiles("Cé", featurizer)
        out = featurize_many(["CCé", "CCO", "C\udc80"], featurizer)
        assert [isinstance(v, InvalidSmilesError) for v in out] == [True, False, True]
        _, kept, invalid = featurize_rows(["CCé", "CCO", "C C"], featurizer)
        assert kept == [1] and [row for row, _, _ in invalid] == [0, 2]


def test_whitespace_around_a_smiles_is_not_part_of_it() -> None:
    assert parse_smiles("  CCO \n").GetNumAtoms() == 3


def test_max_atoms_refuses_before_rdkit_does_the_work() -> None:
    from cgt.data.smiles import CHARACTERS_PER_ATOM
    from cgt.errors import MoleculeTooLargeError

    with SmilesParser() as parser:
        with pytest.raises(MoleculeTooLargeError, match="11400 atoms, more than max_atoms=1000"):
            parser.parse("c1ccccc1" * 1900, max_atoms=1000)  # before sanitizing
        with pytest.raises(MoleculeTooLargeError, match="a SMILES of 20000 characters"):
            parser.parse("CC(" * 6666 + "CC", max_atoms=1000)  # before RDKit parses it
        assert parser.parse("C" * 10, max_atoms=10).GetNumAtoms() == 10
        assert parser.parse("[H]C([H])([H])C", max_atoms=2).GetNumAtoms() == 2  # H removed
    assert CHARACTERS_PER_ATOM * 1000 >= 16000
