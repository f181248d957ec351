"""From scratch vs fine-tuned from the pretrained CGT, on the solubility data, over seeds.

    .venv/bin/python scripts/finetune_study.py [--run runs/finetune-study] [--seeds 0 1 2]
        [--sizes 100 300 all] [--parallel 2] [--data ../shared/data/solubility/solubility.csv]

Every (training-set size, seed, start) trains ``configs/solubility-pretrained.yaml`` (the
settings of ``csv-example.yaml`` with the pretrained model's width and depth) in its own
process with one torch thread, ``--parallel`` at a time: the start is either
``--model.init_from zinc-descriptors-v1`` or ``--model.init_from null`` (scratch), with the
same epochs and everything else equal. ``seed`` is both ``--seed_everything`` and the data
seed (the validation draw from the published train split and, for a size below the full
train split, the ``train_size`` molecules kept). The test split is the published one. A
finished run (its ``metrics.json`` exists) is not run again. Prints the table of test RMSE and
MAE (mean ± std over seeds) and writes it to ``RUN/results.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
STARTS = {"scratch": "null", "pretrained": "zinc-descriptors-v1"}


def train(run: Path, data: Path, size: str, seed: int, start: str) -> dict:
    root = run / f"{size}-{start}-seed{seed}"
    metrics = root / "metrics.json"
    if metrics.exists():
        return json.loads(metrics.read_text())
    args = [sys.executable, "-m", "cgt.train", "--config",
            str(REPO / "configs" / "solubility-pretrained.yaml"),
            "--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false",
            "--seed_everything", str(seed), "--data.init_args.data_seed", str(seed),
            "--data.init_args.path", str(data), "--model.init_from", STARTS[start]]  # fmt: skip
    if size != "all":
        args += ["--data.init_args.train_size", size]
    if root.exists():  # a killed launch: start it again
        shutil.rmtree(root)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    log = run / f"{root.name}.log"
    with open(log, "w") as out:
        subprocess.run(args, check=True, stdout=out, stderr=subprocess.STDOUT, env=env)
    return json.loads(metrics.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/finetune-study"))
    parser.add_argument("--data", type=Path,
                        default=REPO.parent / "shared" / "data" / "solubility" / "solubility.csv")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sizes", nargs="+", default=["100", "300", "all"])
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    args.run.mkdir(parents=True, exist_ok=True)
    jobs = list(itertools.product(args.sizes, args.seeds, STARTS))
    start = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(lambda job: train(args.run, args.data.resolve(), *job), jobs))
    table: dict[str, dict] = {}
    for (size, _seed, begin), metrics in zip(jobs, results, strict=True):
        row = table.setdefault(f"{size} {begin}", {"rmse": [], "mae": [], "seconds": []})
        row["rmse"].append(metrics["test_rmse"])
        row["mae"].append(metrics["test_mae"])
        row["seconds"].append(metrics["fit_seconds"])
    print(f"{len(jobs)} runs, {time.perf_counter() - start:.0f} s\n")
    print("| train molecules | start | test RMSE | test MAE | fit s (mean) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for key, row in table.items():
        size, begin = key.split()
        rmse, mae = np.array(row["rmse"]), np.array(row["mae"])
        print(f"| {size} | {begin} | {rmse.mean():.3f} ± {rmse.std(ddof=1):.3f} | "
              f"{mae.mean():.3f} ± {mae.std(ddof=1):.3f} | {np.mean(row['seconds']):.0f} |")
    (args.run / "results.json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
