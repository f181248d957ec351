"""Per-batch data costs: batching, pair features on the fly vs cached, and cache memory.

    .venv/bin/python benchmarks/bench_pairs.py [--steps 20] [--batches 40] [--threads 1]
        [--zinc-full PATH]

For batches of 32 and 128 ZINC 12k train molecules (file order), prints ms/batch of
- batching: PyG's ``Batch.from_data_list`` of the items vs ``GraphStore.batch`` (what the
  data modules use), and
- ``pair_features(batch, steps)`` on the fly (on CPU, and on CUDA when available), and
- the cached alternative: concatenating precomputed per-graph features (what a collate
  function would do), which still has to be copied to the device.
Then the memory a cache of pair features would take for ZINC 12k and ZINC-full (the exact
Σ n² of ZINC-full when its file is given (parsing it takes a few minutes), else
extrapolated from 12k), next to the memory of the cached graphs themselves.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from rdkit import Chem
from torch_geometric.data import Batch

from cgt.data import ZINC, pair_features

FIELDS = ("kind", "random_walk", "ring", "ring_size", "ring_aromatic")


def best_ms(function, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return 1e3 * best


def cached_bytes_per_graph(n: np.ndarray, steps: int) -> np.ndarray:
    """A compact cache: float32 walks, int8 kind/ring/ring size/aromatic, float32 landing."""
    return n * n * (4 * steps + 4) + n * 4 * steps


def zinc_full_sizes(path: str | None) -> np.ndarray | None:
    if path is None or not os.path.isfile(path):
        return None
    import pandas as pd

    smiles = pd.read_csv(path, usecols=["smiles"])["smiles"]
    return np.array([Chem.MolFromSmiles(s, sanitize=False).GetNumAtoms() for s in smiles])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--zinc-full", help="ZINC-full CSV, for its exact number of pairs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train = ZINC("train")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print("Batching (per batch, CPU): PyG Batch.from_data_list(items) vs GraphStore.batch")
    print("| batch | from_data_list (ms/batch) | GraphStore.batch (ms/batch) |")
    print("| ----- | ------------------------- | --------------------------- |")
    for size in (32, 128):
        groups = [list(range(b * size, (b + 1) * size)) for b in range(args.batches)]
        items = best_ms(
            lambda groups=groups: [Batch.from_data_list([train[i] for i in g]) for g in groups]
        )
        store = best_ms(lambda groups=groups: [train.batch(g) for g in groups])
        print(f"| {size:5d} | {items / args.batches:25.2f} | {store / args.batches:27.2f} |")
    print()
    print(f"ZINC 12k train, steps={args.steps}, {args.batches} batches per size, "
          f"torch threads={torch.get_num_threads()}")  # fmt: skip
    print("| batch | device | on the fly (ms/batch) | cached: concat (ms/batch) | "
          "cached: concat + copy (ms/batch) |")  # fmt: skip
    print("| ----- | ------ | --------------------- | ------------------------- | "
          "-------------------------------- |")  # fmt: skip
    for size in (32, 128):
        batches = [
            Batch.from_data_list([train[i] for i in range(b * size, (b + 1) * size)])
            for b in range(args.batches)
        ]
        per_graph = [
            [pair_features(Batch.from_data_list([train[i]]), args.steps) for i in range(
                b * size, (b + 1) * size)]
            for b in range(args.batches)
        ]  # fmt: skip

        def concat(graphs: list, device: str) -> None:
            for field in FIELDS:
                torch.cat([getattr(g, field) for g in graphs]).to(device, non_blocking=True)

        for device in devices:
            on_device = [b.to(device) for b in batches]

            def on_the_fly(on_device: list = on_device, device: str = device) -> None:
                for batch in on_device:
                    pair_features(batch, args.steps)
                if device == "cuda":
                    torch.cuda.synchronize()

            def cached(device: str = device, per_graph: list = per_graph) -> None:
                for graphs in per_graph:
                    concat(graphs, device)
                if device == "cuda":
                    torch.cuda.synchronize()

            on_the_fly()  # warm-up
            fly = best_ms(on_the_fly) / args.batches
            cat_only = best_ms(lambda: cached("cpu")) / args.batches
            with_copy = best_ms(cached) / args.batches
            print(f"| {size:5d} | {device:6s} | {fly:21.2f} | {cat_only:25.2f} | "
                  f"{with_copy:32.2f} |")  # fmt: skip

    sizes_12k = np.concatenate(
        [ZINC(split).payload()["num_nodes"].numpy() for split in ("train", "val", "test")]
    )
    graph_bytes = sum(
        t.numel() * t.element_size()
        for split in ("train", "val", "test")
        for t in ZINC(split).payload()["fields"].values()
    ) / len(sizes_12k)
    full = zinc_full_sizes(args.zinc_full)
    exact = full is not None
    if full is None:
        full = np.resize(sizes_12k, 249_456)
    print()
    print("| dataset | molecules | Σ n² (pairs) | pair-feature cache | graphs as cached now |")
    print("| ------- | --------- | ------------ | ------------------ | -------------------- |")
    for name, sizes in (
        ("ZINC 12k", sizes_12k),
        ("ZINC-full" + ("" if exact else " (est.)"), full),
    ):
        pairs = int((sizes.astype(np.int64) ** 2).sum())
        cache = cached_bytes_per_graph(sizes.astype(np.int64), args.steps).sum() / 2**30
        graphs = graph_bytes * len(sizes) / 2**30
        print(f"| {name} | {len(sizes):,} | {pairs:,} | {cache:.2f} GiB | {graphs:.2f} GiB |")


if __name__ == "__main__":
    main()
