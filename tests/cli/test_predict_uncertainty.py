"""``python -m cgt.predict`` with uncertainty: ensembles (several checkpoints or a run
directory) and Monte Carlo dropout write the same columns as ``predict``."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from cgt.cli.predict import EXIT_OK, EXIT_USAGE, main
from cgt.ensemble import write_manifest
from cgt.inference import load_model
from cgt.system import CGTModule

SMILES = ["CCO", "c1ccccc1O", "not a smiles", "CC(=O)Nc1ccc(O)cc1"]


def save_untrained(path, seed: int, targets=("logp",)) -> str:
    """An untrained tiny regression model (attention dropout 0.5) saved as a checkpoint."""
    torch.manual_seed(seed)
    module = CGTModule(channels=16, layers=2, heads=4, steps=4, target_names=list(targets))
    torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata()}, path)
    return str(path)


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-ensemble")
    return [save_untrained(root / f"m{k}.ckpt", k) for k in range(3)]


def run(argv, capsys) -> tuple[int, pd.DataFrame | None, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    table = pd.read_csv(io.StringIO(captured.out)) if captured.out else None
    return code, table, captured.err


def test_several_checkpoints_write_mean_and_std(members, capsys):
    code, table, _ = run(["--checkpoint", *members, "--smiles", *SMILES], capsys)
    assert code == EXIT_OK
    assert table.columns.tolist() == ["smiles", "logp", "logp_std", "error"]
    expected = load_model(members).predict(SMILES)
    np.testing.assert_allclose(table["logp"], expected["logp"], rtol=1e-5)
    np.testing.assert_allclose(table["logp_std"], expected["logp_std"], rtol=1e-5)
    assert np.isnan(table["logp_std"].iloc[2]) and "invalid SMILES" in table["error"].iloc[2]


def test_run_directory_and_raw_std(members, tmp_path, capsys):
    info = load_model(members[0]).checkpoint
    write_manifest(tmp_path, members, info, {"std_scale": [3.0]})
    _, calibrated, _ = run(["--checkpoint", tmp_path, "--smiles", *SMILES], capsys)
    _, raw, _ = run(["--checkpoint", tmp_path, "--raw-std", "--smiles", *SMILES], capsys)
    np.testing.assert_allclose(calibrated["logp_std"], 3.0 * raw["logp_std"], rtol=1e-5)


def test_mc_dropout_and_refusals(members, tmp_path, capsys):
    code, table, _ = run(
        ["--checkpoint", members[0], "--mc-dropout", "4", "--smiles", "CCO"], capsys
    )
    assert code == EXIT_OK and table["logp_std"].iloc[0] > 0
    other = save_untrained(tmp_path / "other.ckpt", 9, targets=("tpsa",))
    code, _, err = run(["--checkpoint", members[0], other, "--smiles", "CCO"], capsys)
    assert code == EXIT_USAGE and "cannot form an ensemble" in err and "other.ckpt" in err
    with pytest.raises(SystemExit):
        main(["--checkpoint", members[0], "--smiles", "C", "--mc-dropout", "-2"])


def test_a_streamed_input_file_gets_the_same_spread(members, tmp_path, capsys):
    """``--input`` goes through the streaming path (cgt.screening): an ensemble's and MC
    dropout's ``T_std`` columns come out as from ``predict``, calibration included."""
    source = tmp_path / "mols.csv"
    pd.DataFrame({"smiles": SMILES}).to_csv(source, index=False)
    info = load_model(members[0]).checkpoint
    (tmp_path / "run").mkdir()
    write_manifest(tmp_path / "run", members, info, {"std_scale": [2.0]})
    output = tmp_path / "out.csv"
    args = ["--checkpoint", tmp_path / "run", "--input", source, "--output", output]
    assert run([*args, "--workers", "0"], capsys)[0] == EXIT_OK
    table = pd.read_csv(output)
    expected = load_model(tmp_path / "run").predict(SMILES)
    assert table.columns.tolist() == ["smiles", "logp", "logp_std", "error"]
    np.testing.assert_allclose(table["logp"], expected["logp"], rtol=1e-5)
    np.testing.assert_allclose(table["logp_std"], expected["logp_std"], rtol=1e-5)
    raw = tmp_path / "raw.csv"
    args = ["--checkpoint", tmp_path / "run", "--input", source, "--output", raw, "--raw-std"]
    assert run([*args, "--workers", "0"], capsys)[0] == EXIT_OK
    np.testing.assert_allclose(
        table["logp_std"], 2.0 * pd.read_csv(raw)["logp_std"], rtol=1e-5
    )
