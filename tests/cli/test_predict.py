"""The command line ``python -m cgt.predict`` (cgt.cli.predict)."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

import cgt.cli.predict
from cgt.cli.predict import EXIT_INVALID_ROWS, EXIT_OK, EXIT_USAGE, main
from cgt.inference import load_model

GOOD = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_smiles_to_stdout(checkpoint, capsys):
    smiles = [GOOD[0], "not-a-smiles", GOOD[1]]
    code, out, err = run(["--checkpoint", checkpoint, "--smiles", *smiles], capsys)
    assert code == EXIT_OK
    table = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert list(table.columns) == ["smiles", "logp", "tpsa", "error"]
    assert table["smiles"].tolist() == smiles
    assert table["error"].iloc[1].startswith("invalid SMILES")
    assert table["logp"].iloc[1] == "" and table["error"].iloc[0] == ""
    expected = load_model(checkpoint).predict(smiles)
    got = table.loc[[0, 2], ["logp", "tpsa"]].astype(float).to_numpy()
    np.testing.assert_allclose(got, expected.loc[[0, 2], ["logp", "tpsa"]].to_numpy(), rtol=1e-6)
    assert "3 rows, 2 valid, 1 invalid" in err
    assert "row 2: 'not-a-smiles'" in err


def test_input_file_keeps_its_columns_and_rows(checkpoint, tmp_path, capsys):
    source = tmp_path / "mols.csv"
    source.write_text(
        "id,name,mol\n007,ethanol,CCO\n008,nothing,\n009,phenol,c1ccccc1O\n010,uranium,[U]\n"
    )
    output = tmp_path / "out.csv"
    code, out, err = run(
        ["--checkpoint", checkpoint, "--input", source, "--smiles-column", "mol",
         "--output", output],
        capsys,
    )  # fmt: skip
    assert code == EXIT_OK and out == ""
    table = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert list(table.columns) == ["id", "name", "mol", "logp", "tpsa", "error"]
    assert table["id"].tolist() == ["007", "008", "009", "010"]  # text kept as written
    assert table["mol"].tolist() == ["CCO", "", "c1ccccc1O", "[U]"]
    assert "empty SMILES" in table["error"].iloc[1]
    assert "vocabulary" in table["error"].iloc[3]
    assert table["error"].iloc[0] == table["error"].iloc[2] == ""
    assert table["logp"].iloc[1] == table["tpsa"].iloc[3] == ""
    assert float(table["tpsa"].iloc[2]) == pytest.approx(
        load_model(checkpoint).predict("c1ccccc1O")["tpsa"].iloc[0], rel=1e-6
    )
    assert "4 rows, 2 valid, 2 invalid" in err and str(output) in err


def test_prediction_columns_that_clash_with_input_columns_are_renamed(checkpoint, tmp_path, capsys):
    source = tmp_path / "measured.csv"
    source.write_text("smiles,logp\nCCO,-0.0014\n")
    code, out, err = run(["--checkpoint", checkpoint, "--input", source], capsys)
    assert code == EXIT_OK
    table = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert list(table.columns) == ["smiles", "logp", "logp_pred", "tpsa_pred", "error_pred"]
    assert table["logp"].tolist() == ["-0.0014"]
    assert "logp_pred" in err


def test_strict_fails_on_invalid_rows_and_writes_nothing(checkpoint, tmp_path, capsys):
    output = tmp_path / "strict.csv"
    argv = ["--checkpoint", checkpoint, "--strict", "--output", output, "--smiles"]
    code, _, err = run([*argv, GOOD[0], "C1CC", GOOD[1], "Xx"], capsys)
    assert code == EXIT_INVALID_ROWS
    assert not output.exists()
    assert "row 2: 'C1CC'" in err and "row 4: 'Xx'" in err
    code, _, err = run([*argv, *GOOD], capsys)
    assert code == EXIT_OK and len(pd.read_csv(output)) == len(GOOD)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--input", "{tmp}/missing.csv"], "missing.csv does not exist"),
        (["--input", "{tmp}/mols.csv", "--smiles-column", "SMILES"], "no column 'SMILES'"),
    ],
)
def test_bad_input_is_a_usage_error(checkpoint, tmp_path, capsys, argv, message):
    (tmp_path / "mols.csv").write_text("smiles\nCCO\n")
    argv = [a.format(tmp=tmp_path) for a in argv]
    code, out, err = run(["--checkpoint", checkpoint, *argv], capsys)
    assert code == EXIT_USAGE and out == ""
    assert message in err


def test_bad_checkpoint_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    code, out, err = run(["--checkpoint", bad, "--smiles", "CCO"], capsys)
    assert code == EXIT_USAGE and out == ""
    assert "broken.ckpt" in err


def test_usage_errors_exit_2(checkpoint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", str(checkpoint)])  # neither --smiles nor --input
    assert exit_info.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", str(checkpoint), "--smiles", "C", "--input", "x.csv"])
    assert exit_info.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", str(checkpoint), "--smiles", "C", "--batch-size", "0"])
    assert exit_info.value.code == EXIT_USAGE


def test_threads_option(checkpoint, capsys):
    before = torch.get_num_threads()
    try:
        code, out, _ = run(["--checkpoint", checkpoint, "--threads", 1, "--smiles", "CCO"], capsys)
        assert code == EXIT_OK and torch.get_num_threads() == 1
        assert out.splitlines()[0] == "smiles,logp,tpsa,error"
    finally:
        torch.set_num_threads(before)
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", str(checkpoint), "--smiles", "C", "--threads", "0"])
    assert exit_info.value.code == EXIT_USAGE


def test_help_documents_exit_codes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "exit status" in text
    for code in (EXIT_OK, EXIT_INVALID_ROWS, EXIT_USAGE):
        assert f"\n  {code}  " in text


def test_progress_bar_for_large_inputs(checkpoint, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cgt.cli.predict, "PROGRESS_MIN_ROWS", 10)
    source = tmp_path / "many.csv"
    pd.DataFrame({"smiles": ["CCO", "CCN"] * 6}).to_csv(source, index=False)
    output = tmp_path / "many_out.csv"
    argv = ["--checkpoint", checkpoint, "--input", source, "--output", output, "--batch-size", 4]
    code, _, err = run(argv, capsys)
    assert code == EXIT_OK
    assert "predicting" in err and "/12 " in err  # tqdm bar counting the 12 rows
    assert len(pd.read_csv(output)) == 12
    code, _, err = run([*argv, "--no-progress"], capsys)
    assert code == EXIT_OK and "predicting" not in err
    pd.DataFrame({"smiles": ["CCO"] * 9}).to_csv(source, index=False)
    code, _, err = run(argv, capsys)
    assert code == EXIT_OK and "predicting" not in err  # below the threshold


def test_runs_as_a_module(checkpoint):
    result = subprocess.run(
        [sys.executable, "-m", "cgt.predict", "--checkpoint", str(checkpoint), "--smiles", "CCO"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.splitlines()[0] == "smiles,logp,tpsa,error"
    assert "1 rows, 1 valid, 0 invalid" in result.stderr


def test_cgt_predict_is_the_library_function(checkpoint):
    assert cgt.predict is cgt.inference.predict  # cgt.cli.predict is imported: no shadowing
    table = cgt.predict(["CCO", "c1ccccc1O"], checkpoint=checkpoint)
    expected = load_model(checkpoint).predict(["CCO", "c1ccccc1O"])
    pd.testing.assert_frame_equal(table, expected)


def test_refused_characters_give_rows_and_a_writable_file(checkpoint, tmp_path, capsys):
    """A lone surrogate (undecodable command-line bytes) or a non-ASCII character is a bad
    row with its reason; the output file is still written (surrogates escaped)."""
    smiles = [GOOD[0], "Cé", "C\udcff", GOOD[1]]
    output = tmp_path / "out.csv"
    code, _, err = run(
        ["--checkpoint", checkpoint, "--smiles", *smiles, "--output", output], capsys
    )
    assert code == EXIT_OK, err
    table = pd.read_csv(output, keep_default_na=False)
    assert table["smiles"].tolist() == [GOOD[0], "Cé", "C\\udcff", GOOD[1]]
    assert (table["error"] != "").tolist() == [False, True, True, False]
    assert "non-ASCII" in table["error"].iloc[1] and "non-ASCII" in table["error"].iloc[2]


@pytest.mark.parametrize("suffix", ["parquet", "csv.gz"])
def test_smiles_predictions_are_written_in_the_format_of_the_output_name(
    checkpoint, tmp_path, capsys, suffix
):
    output = tmp_path / f"out.{suffix}"
    smiles = [GOOD[0], "not-a-smiles", "C\udcff"]
    code, _, _ = run(["--checkpoint", checkpoint, "--smiles", *smiles, "--output", output], capsys)
    assert code == EXIT_OK
    if suffix == "parquet":
        table = pd.read_parquet(output)  # fails on CSV text
    else:
        table = pd.read_csv(output, compression="gzip")
    assert list(table.columns) == ["smiles", "logp", "tpsa", "error"]
    assert table["smiles"].tolist() == [GOOD[0], "not-a-smiles", "C\\udcff"]
    assert table["logp"].isna().tolist() == [False, True, True]
