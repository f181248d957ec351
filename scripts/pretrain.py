"""Descriptor pretraining of a CGT on ZINC-full, end to end, resumable.

    .venv/bin/python scripts/pretrain.py --zinc-full ../shared/data/zinc/zinc_full.csv.gz \
        [--run runs/pretrain] [--workers 2] [--steps descriptors data train evaluate export]

Each step skips what an earlier (killed) launch finished, so rerunning the same command
resumes:

1. ``descriptors``: every RDKit 2D descriptor (:mod:`cgt.data.descriptors`) of the 249,456
   ZINC-full SMILES (only the SMILES are read, never the targets), in chunks of 5,000 over
   ``--workers`` processes, each chunk saved as it finishes (``RUN/descriptors/``), with
   progress, rate and ETA.
2. ``data``: the well-defined subset (:func:`~cgt.data.descriptors.select_descriptors` on
   the train split: no undefined, constant or near-duplicate descriptor), standardised with
   the train split's mean and std, written as ``RUN/pretrain.csv`` (SMILES, ZINC-full's
   split, one z-score column per descriptor; an undefined value is an empty, missing cell),
   and ``RUN/descriptors.json`` (names, mean, std, what was dropped and why).
3. ``train``: ``python -m cgt.train --config configs/pretrain.yaml`` on that file
   (checkpoints every epoch; a killed run resumes from ``last.ckpt``).
4. ``evaluate``: the best checkpoint on the validation split, per descriptor: MAE in
   standard deviations and R², written to ``RUN/evaluation.json``.
5. ``export``: the weights and metadata of the best checkpoint, without optimiser state, as
   ``cgt/weights/NAME.ckpt``, its outputs in raw descriptor units, and its numbers in
   ``NAME.json`` beside it (the card ``NAME.md`` is written by hand from them).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parent.parent
CHUNK = 5000
STEPS = ("descriptors", "data", "train", "evaluate", "export")
NAME = "zinc-descriptors-v1"
#: Molecules whose embeddings and predictions are saved with the shipped model (a drug,
#: simple organics, a charged species, a bridged bicycle, a halogenated aromatic).
REFERENCE_SMILES = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "CCO",
    "c1ccc2[nH]ccc2c1",
    "C[N+](C)(C)CC(=O)[O-]",
    "C1CC2CCC1C2",
    "Clc1ccc(Br)cc1F",
]


def progress(done: int, total: int, start: float, what: str) -> None:
    rate = done / max(time.perf_counter() - start, 1e-9)
    eta = (total - done) / rate if rate > 0 else float("inf")
    print(f"\r{what}: {done:,}/{total:,} ({rate:,.0f}/s, ETA {eta / 60:.1f} min)", end="",
          file=sys.stderr, flush=True)  # fmt: skip


def read_zinc(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, usecols=["split", "smiles"], dtype=str, keep_default_na=False)
    print(f"{path}: {len(table):,} molecules ({table.split.value_counts().to_dict()})")
    return table


def step_descriptors(table: pd.DataFrame, run: Path, workers: int) -> np.ndarray:
    from cgt.data.descriptors import all_descriptor_names, descriptor_table

    folder = run / "descriptors"
    folder.mkdir(parents=True, exist_ok=True)
    names = all_descriptor_names()
    (folder / "names.json").write_text(json.dumps(names))
    smiles = table.smiles.tolist()
    chunks = [(i, smiles[i : i + CHUNK]) for i in range(0, len(smiles), CHUNK)]
    todo = [(i, part) for i, part in chunks if not (folder / f"{i:07d}.npy").exists()]
    done = len(smiles) - sum(len(part) for _, part in todo)
    print(f"descriptors: {len(names)} per molecule, {done:,} molecules already done, "
          f"{workers} workers")  # fmt: skip
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max(1, workers), mp_context=context) as pool:
        futures = [(i, pool.submit(descriptor_table, part)) for i, part in todo]
        finished = 0
        for i, future in futures:
            values = future.result().astype(np.float64)
            tmp = folder / f"{i:07d}.tmp.npy"
            np.save(tmp, values)
            os.replace(tmp, folder / f"{i:07d}.npy")
            finished += len(values)
            progress(finished, len(smiles) - done, start, "descriptors")
    print(f"\ndescriptors: {time.perf_counter() - start:.0f} s for {len(smiles) - done:,}")
    return np.concatenate([np.load(folder / f"{i:07d}.npy") for i, _ in chunks])


def step_data(table: pd.DataFrame, values: np.ndarray, run: Path) -> Path:
    from cgt.data.descriptors import all_descriptor_names, select_descriptors

    names = all_descriptor_names()
    train = (table.split == "train").to_numpy()
    kept, dropped = select_descriptors(values[train], names)
    columns = [names.index(n) for n in kept]
    chosen = values[:, columns]
    mean = np.nanmean(chosen[train], axis=0)
    std = np.nanstd(chosen[train], axis=0)
    z = (chosen - mean) / std
    out = pd.DataFrame(z.astype(np.float32), columns=kept)
    out.insert(0, "split", table.split.to_numpy())
    out.insert(0, "smiles", table.smiles.to_numpy())
    path = run / "pretrain.csv"
    tmp = run / "pretrain.csv.tmp"
    out.to_csv(tmp, index=False, float_format="%.5g")
    os.replace(tmp, path)
    (run / "descriptors.json").write_text(json.dumps(
        {"names": kept, "mean": mean.tolist(), "std": std.tolist(), "dropped": dropped,
         "missing_cells": int(np.isnan(chosen).sum())}, indent=1))  # fmt: skip
    print(f"data: {len(kept)} descriptors kept, {len(dropped)} dropped; {path}")
    return path


def step_train(run: Path, csv: Path, extra: list[str]) -> None:
    from cgt.cli.train import train

    names = json.loads((run / "descriptors.json").read_text())["names"]
    args = ["--config", str(REPO / "configs" / "pretrain.yaml"),
            "--trainer.default_root_dir", str(run / "model"),
            "--data.init_args.path", str(csv),
            "--data.init_args.target_columns", json.dumps(names), *extra]  # fmt: skip
    if (run / "model" / "checkpoints" / "last.ckpt").exists():
        args += ["--ckpt_path", "last"]
    start = time.perf_counter()
    train(args)
    print(f"train: {time.perf_counter() - start:.0f} s")


def step_evaluate(table: pd.DataFrame, run: Path) -> dict:
    from cgt.inference import load_model

    model = load_model(run / "model" / "checkpoints" / "best.ckpt")
    data = pd.read_csv(run / "pretrain.csv")
    val = data[data.split == "val"]
    start = time.perf_counter()
    predicted = model.predict(val.smiles.tolist(), batch_size=64, progress=True)
    names = model.target_names
    truth = val[names].to_numpy(np.float64)
    guess = predicted[names].to_numpy(np.float64)
    known = ~np.isnan(truth)
    mae = np.array([np.abs(truth[known[:, j], j] - guess[known[:, j], j]).mean()
                    for j in range(len(names))])  # fmt: skip
    r2 = np.array([1 - ((truth[known[:, j], j] - guess[known[:, j], j]) ** 2).mean()
                   / truth[known[:, j], j].var() for j in range(len(names))])  # fmt: skip
    result = {
        "molecules": len(val),
        "mae_std_units_mean": float(mae.mean()),
        "mae_std_units_median": float(np.median(mae)),
        "r2_mean": float(r2.mean()),
        "r2_median": float(np.median(r2)),
        "per_descriptor": {n: {"mae": float(a), "r2": float(b)}
                           for n, a, b in zip(names, mae, r2, strict=True)},  # fmt: skip
        "seconds": round(time.perf_counter() - start, 1),
    }
    (run / "evaluation.json").write_text(json.dumps(result, indent=1))
    print(f"evaluate: validation MAE {result['mae_std_units_mean']:.3f} std units (mean over "
          f"{len(names)} descriptors), R² mean {result['r2_mean']:.3f} median "
          f"{result['r2_median']:.3f}")  # fmt: skip
    return result


def step_export(run: Path, zinc_full: Path) -> Path:
    best = torch.load(run / "model" / "checkpoints" / "best.ckpt", weights_only=True,
                      map_location="cpu")  # fmt: skip
    scale = json.loads((run / "descriptors.json").read_text())
    entry = dict(best["cgt"])
    # The model predicts z-scores normalised once more by the train split's own statistics:
    # fold the standardisation into them so that predictions come out in descriptor units.
    fit_mean, fit_std = np.array(entry["target_mean"]), np.array(entry["target_std"])
    mean, std = np.array(scale["mean"]), np.array(scale["std"])
    entry["target_mean"] = (mean + std * fit_mean).tolist()
    entry["target_std"] = (std * fit_std).tolist()
    state = {k: v for k, v in best["state_dict"].items() if k.startswith("model.")}
    evaluation = json.loads((run / "evaluation.json").read_text())
    metrics = json.loads((run / "model" / "metrics.json").read_text())
    out = REPO / "cgt" / "weights"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{NAME}.ckpt"
    torch.save({"cgt": entry, "state_dict": state, "epoch": best["epoch"]}, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    source = hashlib.sha256(gzip.open(zinc_full, "rb").read()).hexdigest()
    # Exactly the fields of cgt.pretrained_models.FIELDS (documented there).
    info = {
        "name": NAME,
        "description": f"predicts {len(entry['target_names'])} RDKit 2D descriptors (in "
        "descriptor units) from the molecular graph; a starting point for fine-tuning",
        "training_data": "ZINC-full SMILES (descriptors computed from them with RDKit; its "
        "targets are never read): train split to fit, val split to choose the epoch",
        "featurizer": entry["featurizer"],
        "task": entry["task"],
        "targets": len(entry["target_names"]),
        "parameters": metrics["num_parameters"],
        "bytes": path.stat().st_size,
        "sha256": digest,
        "licence": "MIT",
        "cgt_version": entry["cgt_version"],
        "command": "python scripts/pretrain.py --zinc-full zinc_full.csv.gz",
        "model_config": entry["model_config"],
        "metrics": {
            "val_mae_std_units": evaluation["mae_std_units_mean"],
            "val_r2_mean": evaluation["r2_mean"],
            "val_r2_median": evaluation["r2_median"],
        },
        "training": {
            "zinc_full_sha256_uncompressed": source,
            "best_epoch": best["epoch"],
            "epochs": metrics["epochs"],
            "fit_seconds": metrics["fit_seconds"],
        },
    }
    (out / f"{NAME}.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"export: {path} ({info['bytes'] / 1e6:.2f} MB, sha256 {digest[:12]})")
    write_reference(path)
    return path


def write_reference(path: Path) -> None:
    """The shipped model's embeddings and predictions of a few molecules, which
    ``tests/test_shipped_model.py`` compares the shipped file against."""
    from cgt.inference import load_model

    model = load_model(path)
    embeddings = model.embed(REFERENCE_SMILES, numpy=True)
    predictions = model.predict(REFERENCE_SMILES)[model.target_names].to_numpy()
    reference = {
        "model": NAME,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "smiles": REFERENCE_SMILES,
        "embeddings": embeddings.tolist(),
        "predictions": predictions.tolist(),
        "target_names": model.target_names,
    }
    out = REPO / "tests" / "reference" / f"{NAME}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(reference) + "\n")
    print(f"reference: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zinc-full", type=Path, required=True)
    parser.add_argument("--run", type=Path, default=Path("runs/pretrain"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    args, extra = parser.parse_known_args()
    args.run.mkdir(parents=True, exist_ok=True)
    table = read_zinc(args.zinc_full)
    total = time.perf_counter()
    csv = args.run / "pretrain.csv"
    if "descriptors" in args.steps or ("data" in args.steps and not csv.exists()):
        values = step_descriptors(table, args.run, args.workers)
        if "data" in args.steps:
            step_data(table, values, args.run)
    if "train" in args.steps:
        step_train(args.run, csv, extra)
    if "evaluate" in args.steps:
        step_evaluate(table, args.run)
    if "export" in args.steps:
        step_export(args.run, args.zinc_full)
    print(f"total: {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
