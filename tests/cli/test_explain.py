"""The command line ``python -m cgt.explain`` (cgt.cli.explain)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cgt.cli.explain import CONTRIBUTIONS_FILE, main
from cgt.cli.predict import EXIT_INVALID_ROWS, EXIT_OK, EXIT_USAGE
from cgt.inference import load_model

GOOD = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_input_file_keeps_every_row(checkpoint, tmp_path, capsys):
    source = tmp_path / "mols.csv"
    source.write_text("id,mol\n1,CCO\n2,\n3,not-a-smiles\n4,c1ccccc1O\n5,[U]\n")
    out = tmp_path / "expl"
    code, _, err = run(
        ["--checkpoint", checkpoint, "--input", source, "--smiles-column", "mol", "--output", out],
        capsys,
    )
    assert code == EXIT_OK, err
    assert "5 rows, 2 explained, 3 invalid" in err and "row 3: 'not-a-smiles'" in err
    table = pd.read_csv(out / CONTRIBUTIONS_FILE, keep_default_na=False)
    assert list(table.columns) == [
        "row", "smiles", "atom", "element", "target", "contribution", "error"
    ]  # fmt: skip
    assert sorted(set(table["row"])) == [1, 2, 3, 4, 5]  # every input row is there
    bad = table[table["error"] != ""]
    assert bad["row"].tolist() == [2, 3, 5]
    assert bad["error"].str.startswith(("invalid SMILES", "molecule outside")).all()
    assert (bad["contribution"] == "").all()
    # the valid rows: one line per atom and target plus the constant; sums = predictions
    good = table[table["error"] == ""].astype({"contribution": float})
    assert len(good[good["row"] == 1]) == 2 * (3 + 1)  # CCO: 3 atoms, 2 targets
    sums = good.groupby(["row", "target"])["contribution"].sum().unstack()
    expected = load_model(checkpoint).predict(["CCO", "c1ccccc1O"])
    np.testing.assert_allclose(sums.loc[[1, 4], ["logp", "tpsa"]], expected[["logp", "tpsa"]],
                               atol=1e-5)  # fmt: skip
    assert sorted(p.name for p in out.glob("*.png")) == [
        "mol_0001_logp.png", "mol_0001_tpsa.png", "mol_0004_logp.png", "mol_0004_tpsa.png"
    ]  # fmt: skip
    with Image.open(out / "mol_0004_tpsa.png") as image:
        assert image.size == (500, 400)


def test_smiles_attention_svg_one_target(checkpoint, tmp_path, capsys):
    out = tmp_path / "att"
    argv = ["--checkpoint", checkpoint, "--smiles", *GOOD, "--output", out, "--kind", "attention"]
    argv += ["--format", "svg", "--target", "tpsa", "--atom", "2", "--size", "300", "200"]
    argv += ["--units", "tpsa=A2"]
    code, _, err = run(argv, capsys)
    assert code == EXIT_OK, err
    assert sorted(p.name for p in out.iterdir()) == [
        CONTRIBUTIONS_FILE, "mol_0001.svg", "mol_0002.svg", "mol_0003.svg"
    ]  # fmt: skip
    assert "width='300px'" in (out / "mol_0002.svg").read_text()
    table = pd.read_csv(out / CONTRIBUTIONS_FILE)
    assert set(table["target"]) == {"tpsa"}


def test_strict_and_usage_errors(checkpoint, tmp_path, capsys):
    out = tmp_path / "strict"
    code, _, err = run(
        ["--checkpoint", checkpoint, "--smiles", "CCO", "bad(", "--output", out, "--strict"],
        capsys,
    )
    assert code == EXIT_INVALID_ROWS and "row 2: 'bad('" in err
    assert not out.exists()
    base = ["--smiles", "CCO", "--output", tmp_path / "x"]
    code, _, err = run(["--checkpoint", tmp_path / "missing.ckpt", *base], capsys)
    assert code == EXIT_USAGE and "missing.ckpt" in err
    code, _, err = run(["--checkpoint", checkpoint, *base, "--target", "nope"], capsys)
    assert code == EXIT_USAGE and "unknown target" in err
    code, _, err = run(["--checkpoint", checkpoint, *base, "--kind", "attention", "--layer", "5"],
                       capsys)  # fmt: skip
    assert code == EXIT_USAGE and "layer" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", str(checkpoint), "--smiles", "CCO"])  # no --output
    assert exit_info.value.code == EXIT_USAGE


def test_runs_as_a_module(checkpoint, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cgt.explain", "--checkpoint", str(checkpoint), "--smiles", "CCO",
         "--output", str(tmp_path), "--target", "logp"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == EXIT_OK, result.stderr
    assert "1 rows, 1 explained, 0 invalid" in result.stderr
    assert (tmp_path / "mol_0001.png").is_file()


def test_units_label_the_colour_bar(checkpoint, tmp_path, capsys, monkeypatch):
    import cgt.explanation

    labels = []
    original = cgt.explanation.draw_atom_values

    def spy(*args, **kwargs):
        labels.append(kwargs["label"])
        return original(*args, **kwargs)

    monkeypatch.setattr(cgt.explanation, "draw_atom_values", spy)
    argv = ["--checkpoint", checkpoint, "--smiles", "CCO", "--output", tmp_path]
    code, _, err = run([*argv, "--units", "tpsa=Å²"], capsys)
    assert code == EXIT_OK, err
    assert labels == ["atom contribution to logp", "atom contribution to tpsa (Å²)"]
    with pytest.raises(SystemExit):
        main([*map(str, argv), "--units", "tpsa"])
