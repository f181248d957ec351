"""``python -m cgt.predict --input``: streaming, formats, workers, resume, shards."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from cgt.cli.predict import EXIT_INVALID_ROWS, EXIT_OK, EXIT_USAGE, main
from cgt.inference import CGTPredictor, load_model
from cgt.screening import join_predictions, progress_dir

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "not-a-smiles", "", "[U]", "CCN(CC)CC", "C1CC"]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A CSV of 61 rows (valid and invalid SMILES, an id column kept as text)."""
    rows = [SMILES[i % len(SMILES)] for i in range(61)]
    table = pd.DataFrame({"id": [f"{i:04d}" for i in range(61)], "smiles": rows})
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    table.to_csv(path, index=False)
    return path


def run(argv, capsys=None):
    code = main([str(a) for a in argv])
    if capsys is None:
        return code, ""
    return code, capsys.readouterr().err


def in_memory(checkpoint, path) -> pd.DataFrame:
    """What the in-memory path writes for ``path``: read all, predict all, join."""
    inputs = pd.read_csv(path, dtype=str, keep_default_na=False)
    predictions = load_model(checkpoint).predict(inputs["smiles"].tolist())
    return join_predictions(inputs, predictions)[0]


def assert_same_table(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal cells; predictions equal to float32 rounding (batches are made differently)."""
    assert list(got.columns) == list(expected.columns)
    values = ["logp", "tpsa"]
    assert got.drop(columns=values).astype(str).equals(expected.drop(columns=values).astype(str))
    as_float = got[values].replace("", np.nan).astype(float).to_numpy()
    np.testing.assert_allclose(as_float, expected[values].to_numpy(float), rtol=1e-5, atol=1e-6)


def test_streaming_equals_the_in_memory_path(checkpoint, library, tmp_path, capsys, monkeypatch):
    sizes = []
    original = CGTPredictor.predict_featurized

    def spy(self, smiles, featurized, *args, **kwargs):
        sizes.append(len(smiles))
        return original(self, smiles, featurized, *args, **kwargs)

    monkeypatch.setattr(CGTPredictor, "predict_featurized", spy)
    output = tmp_path / "out.csv"
    code, err = run(["--checkpoint", checkpoint, "--input", library, "--output", output,
                     "--chunk-rows", 10, "--batch-size", 3], capsys)  # fmt: skip
    assert code == EXIT_OK
    assert sizes == [10] * 6 + [1]  # chunk by chunk, never the whole file
    assert_same_table(pd.read_csv(output, dtype=str, keep_default_na=False),
                      in_memory(checkpoint, library))  # fmt: skip
    assert "61 rows, 31 valid, 30 invalid" in err and "row 4: 'not-a-smiles'" in err
    assert not progress_dir(output).exists() and os.listdir(tmp_path) == ["out.csv"]


@pytest.mark.parametrize("suffix", ["csv.gz", "smi", "parquet"])
def test_input_and_output_formats(checkpoint, library, tmp_path, suffix):
    table = pd.read_csv(library, dtype=str, keep_default_na=False)
    source = tmp_path / f"lib.{suffix}"
    if suffix == "smi":  # a .smi line cannot hold an empty SMILES
        table = table[table.smiles != ""].reset_index(drop=True)
        source.write_text(
            "".join(f"{s} {i}\n" for s, i in zip(table.smiles, table.id, strict=True))
        )
        table = table[["smiles", "id"]].rename(columns={"id": "name"})
    elif suffix == "parquet":
        table.to_parquet(source, index=False)
    else:
        table.to_csv(source, index=False)
    output = tmp_path / "out.parquet"
    assert run(["--checkpoint", checkpoint, "--input", source, "--output", output,
                "--chunk-rows", 16]) == (EXIT_OK, "")  # fmt: skip
    got = pd.read_parquet(output)
    expected = join_predictions(table, load_model(checkpoint).predict(table["smiles"].tolist()))[0]
    assert_same_table(got, expected)


def test_workers_give_the_same_file(checkpoint, library, tmp_path, capsys):
    argv = ["--checkpoint", checkpoint, "--input", library, "--chunk-rows", 9, "--output"]
    assert run([*argv, tmp_path / "w0.csv", "--workers", 0])[0] == EXIT_OK
    code, err = run([*argv, tmp_path / "w2.csv", "--workers", 2], capsys)
    assert code == EXIT_OK
    assert (tmp_path / "w0.csv").read_bytes() == (tmp_path / "w2.csv").read_bytes()


def test_an_interrupted_run_resumes_to_the_same_file(checkpoint, library, tmp_path, monkeypatch):
    argv = ["--checkpoint", checkpoint, "--input", library, "--chunk-rows", 7, "--output"]
    assert run([*argv, tmp_path / "whole.csv"])[0] == EXIT_OK
    output = tmp_path / "resumed.csv"
    calls = []
    original = CGTPredictor.predict_featurized

    def dies_on_the_third_chunk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CGTPredictor, "predict_featurized", dies_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        run([*argv, output])
    monkeypatch.undo()
    assert not output.exists()  # never half-written under its name
    state = json.loads((progress_dir(output) / "state.json").read_text())
    assert [part["rows"] for part in state["parts"]] == [7, 7]
    calls.clear()
    monkeypatch.setattr(CGTPredictor, "predict_featurized", dies_on_the_third_chunk)
    calls.extend([1, 1, 1])  # no more failures
    assert run([*argv, output, "--resume"])[0] == EXIT_OK
    assert len(calls) == 3 + 7  # only the 7 chunks not done were predicted
    assert output.read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert not progress_dir(output).exists()


def test_a_killed_process_resumes_to_the_same_file(checkpoint, tmp_path):
    source = tmp_path / "big.smi"
    source.write_text("".join(f"{SMILES[i % 3]} m{i}\n" for i in range(800)))
    output = tmp_path / "out.csv"
    argv = ["--checkpoint", checkpoint, "--input", source, "--chunk-rows", 10,
            "--batch-size", 1, "--workers", 0, "--no-progress", "--output"]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "cgt.predict", *map(str, argv), str(output)],
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    state = progress_dir(output) / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if state.is_file() and len(json.loads(state.read_text())["parts"]) >= 3:
            break
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(json.loads(state.read_text())["parts"])
    assert 3 <= done < 80 and not output.exists()
    assert run([*argv, output]) == (EXIT_OK, "")  # resumes by default
    assert run([*argv, tmp_path / "whole.csv"]) == (EXIT_OK, "")
    assert output.read_bytes() == (tmp_path / "whole.csv").read_bytes()


@pytest.mark.parametrize("shards", [3, 10])
def test_shards_concatenate_to_the_whole_output(checkpoint, library, tmp_path, capsys, shards):
    argv = ["--checkpoint", checkpoint, "--input", library, "--chunk-rows", 8, "--output"]
    assert run([*argv, tmp_path / "whole.csv"])[0] == EXIT_OK
    texts = []
    for k in range(1, shards + 1):
        part = tmp_path / f"shard-{k}.csv"
        code, err = run([*argv, part, "--shard", f"{k}/{shards}"], capsys)
        assert code == EXIT_OK and f"shard {k}/{shards}" in err
        texts.append(part.read_text())
    header = texts[0].splitlines(keepends=True)[0]
    assert all(text.startswith(header) for text in texts)  # an empty shard: the header only
    joined = texts[0] + "".join(text[len(header) :] for text in texts[1:])
    assert joined == (tmp_path / "whole.csv").read_text()


def test_parquet_shards_concatenate(checkpoint, library, tmp_path):
    argv = ["--checkpoint", checkpoint, "--input", library, "--chunk-rows", 30, "--output"]
    assert run([*argv, tmp_path / "whole.parquet"])[0] == EXIT_OK
    for k in (1, 2, 3, 4):  # 3 chunks in 4 shards: shard 1 is empty
        assert run([*argv, tmp_path / f"s{k}.parquet", "--shard", f"{k}/4"])[0] == EXIT_OK
    assert len(pd.read_parquet(tmp_path / "s1.parquet")) == 0
    import pyarrow as pa
    import pyarrow.parquet as pq

    joined = pa.concat_tables([pq.read_table(tmp_path / f"s{k}.parquet") for k in (1, 2, 3, 4)])
    assert joined.equals(pq.read_table(tmp_path / "whole.parquet"), check_metadata=False)


def test_resume_errors_and_restart(checkpoint, library, tmp_path, capsys):
    output = tmp_path / "out.csv"
    argv = ["--checkpoint", checkpoint, "--input", library, "--output", output]
    code, err = run([*argv, "--resume"], capsys)
    assert code == EXIT_USAGE and "no interrupted run" in err
    folder = progress_dir(output)
    folder.mkdir()
    (folder / "state.json").write_text(json.dumps(
        {"version": 1, "settings": {"chunk_rows": 5}, "note": "", "parts": []}))  # fmt: skip
    code, err = run(argv, capsys)
    assert code == EXIT_USAGE and "other settings" in err and "--restart" in err
    assert run([*argv, "--restart"])[0] == EXIT_OK
    assert len(pd.read_csv(output)) == 61 and not folder.exists()


def test_strict_stops_at_the_first_bad_chunk(checkpoint, library, tmp_path, capsys):
    output = tmp_path / "out.csv"
    argv = ["--checkpoint", checkpoint, "--input", library, "--output", output, "--strict"]
    code, err = run([*argv, "--chunk-rows", 3], capsys)
    assert code == EXIT_INVALID_ROWS and "rows 1-3" not in err and "rows 4-6" in err
    assert "row 4: 'not-a-smiles'" in err and "row 6: '[U]'" in err
    assert not output.exists() and not progress_dir(output).exists()


def test_stream_to_stdout(checkpoint, library, capsys):
    code = main(["--checkpoint", str(checkpoint), "--input", str(library), "--chunk-rows", "6"])
    assert code == EXIT_OK
    out = capsys.readouterr().out
    got = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert_same_table(got, in_memory(checkpoint, library))


def test_bad_options(checkpoint, library):
    for extra in (["--shard", "0/3"], ["--shard", "x"], ["--chunk-rows", "0"], ["--workers", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["--checkpoint", str(checkpoint), "--input", str(library), *extra])
        assert exit_info.value.code == EXIT_USAGE
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(checkpoint), "--smiles", "C", "--shard", "1/2"])
