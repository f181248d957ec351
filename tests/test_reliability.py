"""The reliability suite: promises that would fail here if broken (README, "Reliability").

Hostile input: seeded fuzzed strings (scripts/fuzz_predict.py, which runs 10,000 of them)
through ``predict`` and the predict command line: no exception escapes, no row is dropped
or reordered, every bad row has a one-line reason and no prediction. Files: bad and crafted
checkpoints on every reading path, the predict output file, concurrent and corrupt caches.
Training: same seed, same metrics; ``kill -9`` mid-epoch then resume, same metrics.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "tests" / "helpers"
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


# ------------------------------------------------------------------------------ files


class _Payload:
    """Unpickling this would create ``marker``: a crafted checkpoint."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _bad_checkpoints(folder: Path, good: Path) -> dict[str, Path]:
    """Truncated, random bytes, foreign (a zip that is no torch file; a torch file that is
    no cgt checkpoint), a directory, and a crafted pickle payload."""
    import zipfile

    import numpy as np
    import torch

    files = {
        "truncated": folder / "truncated.ckpt",
        "random": folder / "random.ckpt",
        "foreign-zip": folder / "foreign.zip.ckpt",
        "foreign-torch": folder / "foreign.torch.ckpt",
        "directory": folder / "a-directory.ckpt",
        "payload": folder / "payload.ckpt",
    }
    data = good.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["random"].write_bytes(np.random.default_rng(0).bytes(4096))
    with zipfile.ZipFile(files["foreign-zip"], "w") as archive:
        archive.writestr("hello.txt", "not a checkpoint")
    torch.save({"weights": torch.zeros(3)}, files["foreign-torch"])
    files["directory"].mkdir()
    real = torch.load(good, weights_only=True)
    real["cgt"]["config"] = {"evil": _Payload(folder / "PWNED")}
    torch.save(real, files["payload"])
    return files


def test_bad_checkpoints_are_refused_naming_the_file_and_run_nothing(fuzz, tmp_path, capsys):
    from cgt.checkpoint import CheckpointError
    from cgt.cli.predict import EXIT_USAGE, main
    from cgt.inference import load_model

    _, good, _ = fuzz
    for kind, path in _bad_checkpoints(tmp_path, good).items():
        with pytest.raises(CheckpointError) as info:
            load_model(path)
        assert str(path) in str(info.value), kind
        assert main(["--checkpoint", str(path), "--smiles", "CCO"]) == EXIT_USAGE, kind
        assert str(path) in capsys.readouterr().err, kind
    assert not (tmp_path / "PWNED").exists()


def test_resuming_reads_checkpoints_safely(fuzz, tmp_path):
    """Resuming (and testing the best checkpoint) goes through AtomicCheckpointIO, which
    reads with weights_only=True whatever Lightning asks and names the file on failure."""
    from cgt.checkpoint import CheckpointError
    from cgt.cli.checkpoint_io import AtomicCheckpointIO

    _, good, _ = fuzz
    io = AtomicCheckpointIO()
    assert "state_dict" in io.load_checkpoint(good, weights_only=False)
    for kind, path in _bad_checkpoints(tmp_path, good).items():
        with pytest.raises(CheckpointError) as info:
            io.load_checkpoint(path, weights_only=False)
        assert str(path) in str(info.value), kind
    assert not (tmp_path / "PWNED").exists()


def test_resume_cli_refuses_a_crafted_last_checkpoint(fuzz, tmp_path):
    import shutil

    from cgt.checkpoint import CheckpointError
    from cgt.cli.train import main as train_main

    _, good, _ = fuzz
    files = _bad_checkpoints(tmp_path, good)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(files["payload"], run / "checkpoints" / "last.ckpt")
    argv = ["--config", "zinc-tiny.yaml", "--trainer.default_root_dir", str(run),
            "--trainer.enable_progress_bar", "false", "--ckpt_path", "last"]  # fmt: skip
    with pytest.raises(CheckpointError, match="last.ckpt"):
        train_main(argv)
    assert not (tmp_path / "PWNED").exists()


def test_output_never_overwrites_the_input_nor_is_left_half_written(fuzz, tmp_path, capsys,
                                                                     monkeypatch):  # fmt: skip
    import pandas as pd

    import cgt.cli.predict as cli

    _, good, _ = fuzz
    source = tmp_path / "mols.csv"
    source.write_text("smiles\nCCO\nc1ccccc1O\n")
    before = source.read_bytes()
    for output in (source, tmp_path / "." / "mols.csv"):
        code = cli.main(["--checkpoint", str(good), "--input", str(source), "--output",
                         str(output)])  # fmt: skip
        assert code == cli.EXIT_USAGE and "is the input file" in capsys.readouterr().err
    link = tmp_path / "link.csv"
    link.symlink_to(source)
    assert cli.main(["--checkpoint", str(good), "--input", str(source), "--output", str(link)])
    assert source.read_bytes() == before

    target = tmp_path / "out.csv"
    original = pd.DataFrame.to_csv

    def dies_half_way(self, path, *args, **kwargs):
        Path(path).write_text("smiles,y\nCCO,")  # part of the file, then the failure
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", dies_half_way)
    code = cli.main(["--checkpoint", str(good), "--input", str(source), "--output", str(target)])
    assert code == cli.EXIT_USAGE and "disk full" in capsys.readouterr().err
    assert not target.exists() and list(tmp_path.glob(".out.csv.*")) == []
    monkeypatch.setattr(pd.DataFrame, "to_csv", original)
    assert cli.main(["--checkpoint", str(good), "--input", str(source), "--output",
                     str(target)]) == cli.EXIT_OK  # fmt: skip
    assert len(pd.read_csv(target)) == 2 and (target.stat().st_mode & 0o777) != 0o600


# ------------------------------------------------------------------------------ caches

BUILD = """
import sys
from cgt.data import CSVDataset
data = CSVDataset(sys.argv[1], target_columns=["y"], root=sys.argv[2])
print(len(data), data.smiles[0])
"""


def test_two_processes_building_one_cache_both_succeed(tmp_path):
    import subprocess
    import sys

    import pandas as pd

    smiles = FUZZ["zinc_smiles"](300, __import__("random").Random(0))
    source = tmp_path / "mols.csv"
    pd.DataFrame({"smiles": smiles, "y": range(len(smiles))}).to_csv(source, index=False)
    cache = tmp_path / "cache"
    command = [sys.executable, "-c", BUILD, str(source), str(cache)]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=ROOT) for _ in range(2)]  # fmt: skip
    results = [worker.communicate(timeout=300) for worker in workers]
    for worker, (out, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
        assert out.split()[0] == "300"
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt"  # no temporary file left
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert again.returncode == 0 and "rebuilding" not in again.stderr


def test_a_corrupt_cache_is_rebuilt_with_a_warning(tmp_path, caplog):
    import logging

    import pandas as pd

    from cgt.data import CSVDataset

    source = tmp_path / "mols.csv"
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O"], "y": [1.0, 2.0]}).to_csv(source, index=False)
    first = CSVDataset(source, target_columns=["y"], root=tmp_path / "cache")
    (file,) = (tmp_path / "cache").iterdir()
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="cgt.data.cache"):
        second = CSVDataset(source, target_columns=["y"], root=tmp_path / "cache")
    assert "corrupted; rebuilding" in caplog.text
    assert second.smiles == first.smiles and (second.y == first.y).all()


# ------------------------------------------------------------------------------ training

#: metrics.json entries that name the run (paths, wall time), not its results.
_RUN_FIELDS = ("best_checkpoint", "last_checkpoint", "fit_seconds", "resumed_from")


def _train(root: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "cgt.train", "--config", "zinc-tiny.yaml",
            "--trainer.default_root_dir", str(root), "--trainer.max_epochs", "2",
            "--trainer.enable_progress_bar", "false", *extra]  # fmt: skip
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HELPERS)]))
    environment.update(env or {})
    return subprocess.run(argv, cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def _results(root: Path) -> dict:
    metrics = json.loads((root / "metrics.json").read_text())
    return {key: value for key, value in metrics.items() if key not in _RUN_FIELDS}


def test_kill_9_mid_epoch_then_resume_gives_the_same_metrics(tmp_path):
    """CPU, same seed: an uninterrupted run, a second one (identical metrics), and a run
    killed with SIGKILL in the middle of its second epoch then resumed with --ckpt_path
    last: the same metrics.json, exactly (every float equal)."""
    first, second, killed = tmp_path / "first", tmp_path / "second", tmp_path / "killed"
    for root in (first, second):
        done = _train(root)
        assert done.returncode == 0, done.stderr[-2000:]
    assert _results(first) == _results(second)

    kill = {"CGT_KILL_EPOCH": "1", "CGT_KILL_BATCH": "1"}
    died = _train(killed, "--trainer.callbacks+=kill_mid_epoch.KillMidEpoch", env=kill)
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    assert not (killed / "metrics.json").exists()
    last = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0  # the last complete epoch before the kill
    resumed = _train(killed, "--ckpt_path", "last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _results(killed) == _results(first)
