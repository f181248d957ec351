"""The reliability suite: promises that would fail here if broken (README, "Reliability").

Hostile input: seeded fuzzed strings (scripts/fuzz_predict.py, which runs 10,000 of them)
through ``predict`` and the predict command line: no exception escapes, no row is dropped
or reordered, every bad row has a one-line reason and no prediction.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUZZ = runpy.run_path(str(ROOT / "scripts" / "fuzz_predict.py"))
COUNT = 300  # the script's default is 10,000; this keeps the test well under a minute


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    return FUZZ["fuzzed_inputs"](COUNT, seed=0), FUZZ["small_checkpoint"](folder), folder


def test_the_fuzzed_inputs_are_hostile_and_seeded(fuzz):
    inputs, _, _ = fuzz
    again = FUZZ["fuzzed_inputs"](COUNT, seed=0)
    assert list(map(repr, inputs)) == list(map(repr, again))  # same seed, same inputs
    strings = [s for s in inputs if isinstance(s, str)]
    assert any(s is None for s in inputs) and any(isinstance(s, float) for s in inputs)
    assert any(not s.isascii() for s in strings) and any(len(s) >= 1000 for s in strings)
    assert any(s.strip() == "" for s in strings)
    assert any(not FUZZ["_utf8"](s) for s in strings)  # lone surrogates


def test_predict_keeps_every_row_and_explains_every_bad_one(fuzz):
    inputs, checkpoint, _ = fuzz
    figures = FUZZ["check_api"](inputs, checkpoint)
    assert figures["exception"] is None, figures["exception"]
    assert figures["rows"] == COUNT and figures["same_rows_in_order"]
    assert figures["bad_without_one_line_reason"] == 0
    assert figures["valid_without_prediction"] == 0 and figures["bad_with_prediction"] == 0
    assert figures["valid"] > 10 and figures["bad"] > 100  # both kinds were exercised


def test_the_predict_cli_keeps_every_row_and_explains_every_bad_one(fuzz):
    inputs, checkpoint, folder = fuzz
    figures = FUZZ["check_cli"](inputs, checkpoint, folder)
    assert figures["exception"] is None, figures["exception"]
    assert figures["exit"] == 0 and figures["same_rows_in_order"]
    assert figures["bad_without_one_line_reason"] == 0 and figures["bad"] > 100
