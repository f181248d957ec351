"""Prediction throughput on this CPU: ZINC-full test SMILES through the zinc.yaml model.

    .venv/bin/python benchmarks/bench_predict.py [--zinc-full PATH] [--threads 1]

Reads the 5,000 test SMILES of ZINC-full (``--zinc-full``, else ``$CGT_ZINC_FULL``, else
``../shared/data/zinc/zinc_full.csv.gz`` beside the repository) and builds the model of
``configs/zinc.yaml`` (the paper's ZINC CGT) with random weights: throughput does not depend
on the weight values, so no trained checkpoint is needed.

Prints, in molecules per second: featurizing alone (RDKit parsing, rings, ZINC atom types
-> graphs); the model alone (collating, pair features, forward, on graphs featurized
beforehand); ``CGTPredictor.predict`` end to end (SMILES in, DataFrame out). Then where the
model's time goes on one batch: pair features, the two encoders, the CGT layers (and the
chromatic attention inside them), the head. Each figure is the best of ``--repeats`` runs;
the load average is printed because other processes on a shared machine slow every figure.
Target (issue 5): >= 1,000 molecules/s end to end.

``--screen N [N ...]`` measures instead whole files of the first N SMILES of ZINC-full (all
splits, file order), each configuration in a fresh process: the batch path (read the whole
CSV, ``CGTPredictor.predict`` of every SMILES, write the CSV) against the streaming command
line ``python -m cgt.predict --input --output`` with 1 and 2 featurizing workers
(``--workers``, default ``1 2``), in molecules per second and peak resident memory of the main
process (and of the largest worker).

    .venv/bin/python benchmarks/bench_predict.py --screen 10000 249456 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import pandas as pd
import torch
import yaml
from torch_geometric.data import Batch

from cgt.data import pair_features
from cgt.inference import CGTPredictor
from cgt.model import CGT
from cgt.nn.functional import chromatic_attention
from cgt.system import CGTModule

DEFAULT_ZINC_FULL = Path(__file__).resolve().parents[2] / "shared/data/zinc/zinc_full.csv.gz"


def zinc_full_test_smiles(path: Path) -> list[str]:
    """The SMILES of the 5,000-molecule test split of ZINC-full, in file order."""
    if not path.is_file():
        raise SystemExit(
            f"ZINC-full not found at {path}: pass --zinc-full PATH or set CGT_ZINC_FULL to "
            "zinc_full.csv.gz (columns split,pyg_idx,smiles,y; see cgt/data/files/zinc/README.md)"
        )
    table = pd.read_csv(path, usecols=["split", "smiles"])
    return table.loc[table["split"] == "test", "smiles"].tolist()


def zinc_yaml_predictor() -> tuple[CGTPredictor, int]:
    """A predictor around a randomly initialised model of ``configs/zinc.yaml``."""
    config = yaml.safe_load((files("cgt.configs") / "zinc.yaml").read_text())
    torch.manual_seed(0)
    module = CGTModule(**config["model"])
    predictor = CGTPredictor(module.model, "zinc", ["y"], "regression", [0.0], [1.0])
    return predictor, module.num_parameters


def best_time(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


@torch.inference_mode()
def stage_times(model: CGT, batch: Batch, repeats: int) -> dict[str, float]:
    """Seconds per stage of ``CGT.forward`` on one batch (same steps as the model's forward)."""
    features = pair_features(batch, model.steps)
    x = model.node_encoder(batch.atom_type, features.landing)
    pair_att, pair_val = model.pair_encoder(features)
    layer = model.layers[0].attention
    q, k, v = layer.q_proj(x), layer.k_proj(x), layer.v_proj(x)

    def layers() -> None:
        h = x
        for block in model.layers:
            h = block(h, pair_att, pair_val, batch.ptr)

    def attention() -> None:
        for _ in model.layers:
            chromatic_attention(q, k, v, pair_att, pair_val, batch.ptr, layer.heads)

    return {
        "pair features": best_time(lambda: pair_features(batch, model.steps), repeats),
        "node + pair encoders": best_time(
            lambda: (
                model.node_encoder(batch.atom_type, features.landing),
                model.pair_encoder(features),
            ),
            repeats,
        ),
        f"{len(model.layers)} CGT layers": best_time(layers, repeats),
        "  of which chromatic attention": best_time(attention, repeats),
        "head": best_time(lambda: model.head(x, batch.batch, batch.num_graphs), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--zinc-full",
        type=Path,
        default=Path(os.environ.get("CGT_ZINC_FULL", DEFAULT_ZINC_FULL)),
        help="zinc_full.csv.gz (default: $CGT_ZINC_FULL or ../shared/data/zinc/)",
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--molecules", type=int, default=None, help="first N only")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--screen", type=int, nargs="+", default=None, metavar="N",
                        help="whole files of N molecules: batch path vs streaming")  # fmt: skip
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="with --screen")
    parser.add_argument("--tiny", action="store_true",
                        help="with --screen: a width-16, 2-layer model instead of zinc.yaml's "
                        "(memory and pipeline costs at 250k molecules in minutes)")  # fmt: skip
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    load_before = os.getloadavg()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.screen:
        screen_files(args)
    else:
        throughput(args)
    print()
    print(f"load average before: {load_before}, after: {os.getloadavg()}")


def throughput(args: argparse.Namespace) -> None:
    """The throughput table and the model's stages (see the module docstring)."""
    smiles = zinc_full_test_smiles(args.zinc_full)[: args.molecules]
    predictor, num_parameters = zinc_yaml_predictor()
    count = len(smiles)
    print(
        f"{count} ZINC-full test molecules, zinc.yaml model ({num_parameters:,} parameters, "
        "random weights)"
    )
    graphs = predictor.featurize(smiles).graphs
    if len(graphs) != count:
        raise SystemExit(f"only {len(graphs)} of {count} molecules featurize")
    featurize = best_time(lambda: predictor.featurize(smiles), args.repeats)

    rows = []
    for batch_size in args.batch_sizes:

        def model_only(batch_size: int = batch_size) -> None:
            for start in range(0, count, batch_size):
                predictor.forward(Batch.from_data_list(graphs[start : start + batch_size]))

        model = best_time(model_only, args.repeats)
        end_to_end = best_time(
            lambda batch_size=batch_size: predictor.predict(smiles, batch_size=batch_size),
            args.repeats,
        )
        rows.append((batch_size, featurize, model, end_to_end))

    batch = Batch.from_data_list(graphs[: args.batch_sizes[0]])
    stages = stage_times(predictor.model, batch, args.repeats)
    print()
    print("| batch | featurize (mol/s) | model (mol/s) | end to end (mol/s) | end to end (s) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for batch_size, featurize_s, model_s, total_s in rows:
        print(
            f"| {batch_size} | {count / featurize_s:,.0f} | {count / model_s:,.0f} | "
            f"{count / total_s:,.0f} | {total_s:.1f} |"
        )
    print()
    print(
        f"Model stages on one batch of {batch.num_graphs} molecules "
        f"({batch.num_nodes} atoms, {int((batch.ptr.diff() ** 2).sum())} pairs):"
    )
    print()
    print("| stage | seconds |")
    print("| --- | ---: |")
    for name, seconds in stages.items():
        print(f"| {name} | {seconds:.3f} |")


#: Run in a fresh process: one configuration of --screen; prints seconds and peak RSS (JSON).
_CHILD = """
import json, resource, sys, time
import torch
args = json.loads(sys.argv[1])
if args["threads"]:
    torch.set_num_threads(args["threads"])
start = time.perf_counter()
if args["mode"] == "batch":
    import pandas as pd
    from cgt.cli.predict import join_predictions
    from cgt.inference import load_model
    inputs = pd.read_csv(args["input"], dtype=str, keep_default_na=False)
    predictions = load_model(args["checkpoint"]).predict(inputs["smiles"].tolist())
    join_predictions(inputs, predictions)[0].to_csv(args["output"], index=False)
else:
    from cgt.cli.predict import main
    code = main(["--checkpoint", args["checkpoint"], "--input", args["input"], "--output",
                 args["output"], "--workers", str(args["workers"]), "--no-progress"])
    assert code == 0, code
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "workers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def screen_files(args: argparse.Namespace) -> None:
    """The --screen table (see the module docstring)."""
    table = pd.read_csv(args.zinc_full, usecols=["smiles"])
    config = yaml.safe_load((files("cgt.configs") / "zinc.yaml").read_text())["model"]
    if args.tiny:
        config.update(channels=16, layers=2, heads=4, steps=8)
    torch.manual_seed(0)
    module = CGTModule(**config)
    name = "tiny" if args.tiny else "zinc.yaml"
    print(f"{name} model ({module.num_parameters:,} parameters, random weights)")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = Path(scratch, "zinc.ckpt")
        torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata()}, checkpoint)
        for count in args.screen:
            source = Path(scratch, f"zinc-{count}.csv")
            table.iloc[:count].to_csv(source, index=False)
            modes = [("batch", 0)] + [("stream", w) for w in args.workers]
            for mode, workers in modes:
                child = {"mode": mode, "workers": workers, "threads": args.threads,
                         "checkpoint": str(checkpoint), "input": str(source),
                         "output": str(Path(scratch, "out.csv"))}  # fmt: skip
                result = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(child)],
                                        capture_output=True, text=True, check=True)  # fmt: skip
                measured = json.loads(result.stdout.strip().splitlines()[-1])
                rows.append((count, mode, workers, measured))
                print(count, mode, workers, measured, flush=True)
    print()
    print("| molecules | path | workers | seconds | molecules/s | peak RSS main (MB) | "
          "peak RSS worker (MB) |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for count, mode, workers, m in rows:
        worker = f"{m['workers_mb']:,.0f}" if workers else "-"
        print(f"| {count:,} | {mode} | {workers if mode == 'stream' else '-'} | "
              f"{m['seconds']:.0f} | {count / m['seconds']:,.0f} | {m['main_mb']:,.0f} | "
              f"{worker} |")  # fmt: skip


if __name__ == "__main__":
    main()
