"""``python -m cgt.predict --embed``: embeddings instead of predictions, in memory and
streamed (formats, workers, shards, resume), and the options it refuses."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from cgt.cli.predict import EXIT_INVALID_ROWS, EXIT_OK, EXIT_USAGE, main
from cgt.inference import ERROR_COLUMN, CGTPredictor, embedding_columns, load_model
from cgt.screening import join_predictions, progress_dir
from cgt.system import CGTModule

SMILES = ["CCO", "c1ccccc1O", "not-a-smiles", "", "[U]", "CC(=O)Nc1ccc(O)cc1", "CCé"]
COLUMNS = embedding_columns(16)  # the conftest model: width 16, 2 layers


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A CSV of 23 rows (valid and invalid SMILES, an id column kept as text)."""
    rows = [SMILES[i % len(SMILES)] for i in range(23)]
    table = pd.DataFrame({"id": [f"{i:04d}" for i in range(23)], "smiles": rows})
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def second_checkpoint(tmp_path_factory):
    """Another small untrained model of the conftest's targets (another seed)."""
    torch.manual_seed(1)
    module = CGTModule(channels=16, layers=2, heads=4, steps=4, target_names=["logp", "tpsa"])
    path = tmp_path_factory.mktemp("ckpt2") / "other.ckpt"
    torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata()}, path)
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_embeddings(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns and text cells; embeddings equal to float32 rounding."""
    assert list(got.columns) == list(expected.columns)
    text = [c for c in got.columns if c not in COLUMNS]
    assert got[text].astype(str).equals(expected[text].astype(str))
    values = got[COLUMNS].replace("", np.nan).astype(float).to_numpy()
    np.testing.assert_allclose(values, expected[COLUMNS].to_numpy(float), rtol=1e-5, atol=1e-6)


def test_smiles_embeddings_to_stdout(checkpoint, capsys):
    code, out, err = run(["--checkpoint", checkpoint, "--embed", "--smiles", *SMILES], capsys)
    assert code == EXIT_OK
    table = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert list(table.columns) == ["smiles", *COLUMNS, ERROR_COLUMN]
    assert table["smiles"].tolist() == SMILES
    valid = [e == "" for e in table[ERROR_COLUMN]]
    assert valid == [True, True, False, False, False, True, False]
    assert (table.loc[~np.array(valid), COLUMNS] == "").all().all()
    assert_embeddings(table, load_model(checkpoint).embed(SMILES))
    assert "7 rows, 3 valid, 4 invalid" in err and "row 3: 'not-a-smiles'" in err


@pytest.mark.parametrize("suffix", ["csv", "csv.gz", "parquet"])
def test_smiles_embeddings_of_a_layer_to_a_file(checkpoint, tmp_path, capsys, suffix):
    output = tmp_path / f"emb.{suffix}"
    argv = ["--checkpoint", checkpoint, "--embed", "--layer", 0, "--output", output]
    code, out, err = run([*argv, "--smiles", *SMILES], capsys)
    assert code == EXIT_OK and out == ""
    if suffix == "parquet":
        table = pd.read_parquet(output)
        assert table[COLUMNS].dtypes.eq(np.float32).all()
    else:
        table = pd.read_csv(output, dtype=str, keep_default_na=False)  # gzip by the name
    expected = load_model(checkpoint).embed(SMILES, layer=0)
    assert_embeddings(table, expected)
    last = load_model(checkpoint).embed(SMILES)
    assert not np.allclose(expected[COLUMNS].to_numpy()[0], last[COLUMNS].to_numpy()[0])


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_streamed_input_equals_the_in_memory_result(checkpoint, library, tmp_path, suffix):
    inputs = pd.read_csv(library, dtype=str, keep_default_na=False)
    expected = join_predictions(inputs, load_model(checkpoint).embed(inputs["smiles"]))[0]
    argv = ["--checkpoint", checkpoint, "--embed", "--input", library, "--chunk-rows", 5,
            "--batch-size", 3, "--output"]  # fmt: skip
    assert main([str(a) for a in [*argv, tmp_path / f"w0.{suffix}", "--workers", 0]]) == EXIT_OK
    if suffix == "parquet":
        got = pd.read_parquet(tmp_path / "w0.parquet")
    else:
        got = pd.read_csv(tmp_path / "w0.csv", dtype=str, keep_default_na=False)
        assert main([str(a) for a in [*argv, tmp_path / "w1.csv", "--workers", 1]]) == EXIT_OK
        assert (tmp_path / "w1.csv").read_bytes() == (tmp_path / "w0.csv").read_bytes()
    assert list(got.columns) == ["id", "smiles", *COLUMNS, ERROR_COLUMN]
    assert_embeddings(got, expected)


def test_streamed_embeddings_shard_and_resume(checkpoint, library, tmp_path, capsys, monkeypatch):
    argv = ["--checkpoint", checkpoint, "--embed", "--input", library, "--chunk-rows", 4,
            "--output"]  # fmt: skip
    assert run([*argv, tmp_path / "whole.csv"], capsys)[0] == EXIT_OK
    whole = (tmp_path / "whole.csv").read_text()
    shards = [tmp_path / "s1.csv", tmp_path / "s2.csv"]
    for k, shard in enumerate(shards, 1):
        assert run([*argv, shard, "--shard", f"{k}/2"], capsys)[0] == EXIT_OK
    header, second = whole.splitlines(keepends=True)[0], shards[1].read_text()
    assert shards[0].read_text() + second[len(header) :] == whole

    output = tmp_path / "resumed.csv"
    calls = []
    original = CGTPredictor.embed_featurized

    def dies_on_the_third_chunk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CGTPredictor, "embed_featurized", dies_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        run([*argv, output], capsys)
    assert not output.exists()
    assert len(json.loads((progress_dir(output) / "state.json").read_text())["parts"]) == 2
    # Predictions (or another layer) do not continue an embedding run.
    plain = ["--checkpoint", checkpoint, "--input", library, "--chunk-rows", 4, "--output"]
    code, _, err = run([*plain, output], capsys)
    assert code == EXIT_USAGE and "other settings (embed differ)" in err
    code, _, err = run([*argv, output, "--layer", 0], capsys)
    assert code == EXIT_USAGE and "embed differ" in err
    assert run([*argv, output, "--layer", 1, "--resume"], capsys)[0] == EXIT_OK  # 1 is -1
    assert len(calls) == 3 + 4  # only the 4 chunks not done (of 6)
    assert output.read_text() == whole


def test_strict_embeddings_fail_on_invalid_rows(checkpoint, capsys):
    argv = ["--checkpoint", checkpoint, "--embed", "--strict", "--smiles", "CCO", "[U]"]
    code, out, err = run(argv, capsys)
    assert code == EXIT_INVALID_ROWS and out == "" and "row 2: '[U]'" in err


def test_an_ensemble_embeds_with_the_chosen_member(checkpoint, second_checkpoint, capsys):
    argv = ["--checkpoint", checkpoint, second_checkpoint, "--embed", "--smiles", *SMILES[:2]]
    code, out, err = run([*argv, "--member", 1], capsys)
    assert code == EXIT_OK and "member 1 of 2" in err and "--member" in err
    table = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert_embeddings(table, load_model(second_checkpoint).embed(SMILES[:2]))
    code, out, err = run(argv, capsys)  # the first member by default
    assert code == EXIT_OK and "member 0 of 2" in err
    assert_embeddings(pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False),
                      load_model(checkpoint).embed(SMILES[:2]))  # fmt: skip
    code, out, err = run([*argv, "--member", 2], capsys)
    assert code == EXIT_USAGE and "--member 2 out of range" in err and "-2..1" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--embed", "--mc-dropout", "3"], "excludes --mc-dropout and --raw-std"),
        (["--embed", "--raw-std"], "excludes --mc-dropout and --raw-std"),
        (["--layer", "0"], "--layer and --member need --embed"),
        (["--member", "0"], "--layer and --member need --embed"),
    ],
)
def test_combinations_that_make_no_sense_are_refused(checkpoint, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", str(checkpoint), "--smiles", "CCO", *extra])
    assert exit_info.value.code == EXIT_USAGE and message in capsys.readouterr().err


def test_a_layer_or_member_the_model_lacks_is_a_usage_error(checkpoint, library, capsys):
    for source in (["--smiles", "CCO"], ["--input", library]):
        code, out, err = run(["--checkpoint", checkpoint, "--embed", "--layer", 2, *source],
                             capsys)  # fmt: skip
        assert code == EXIT_USAGE and out == ""
        assert "layer 2 out of range" in err and "valid layers: -2..1" in err
    code, _, err = run(["--checkpoint", checkpoint, "--embed", "--member", 1, "--smiles", "C"],
                       capsys)  # fmt: skip
    assert code == EXIT_USAGE and "is one model" in err
