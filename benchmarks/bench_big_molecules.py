"""Peak memory and time of predicting one large molecule, and what it costs its neighbours.

    python benchmarks/bench_big_molecules.py [--sizes 100 300 1000] [--layers 10]
        [--train-layers 2]

Each size runs in a fresh process: an untrained model of the paper's shape (C = 64, 8
heads, 10 layers, 20 random-walk steps; the weights do not change the cost) predicts one
n-atom molecule (a chain of n carbons: n² atom pairs) on the CPU; printed are the peak
resident memory above the loaded model (``ru_maxrss``) and the wall time. Then 64 ZINC
molecules are predicted alone and with a 1,000-atom molecule in the middle of the list:
batches are cut by atom pairs (``max_pairs``), so the small ones keep their time.

Training: a batch of 31 ZINC molecules with a 1,000-atom molecule in the middle, cut as the
data modules cut it (``cut_batches``) with the default ``max_pairs`` (three batches: the
large molecule alone) and with ``max_pairs=None`` (one batch of 32); each case in a fresh
process takes training steps (forward, MSE loss, backward, AdamW step) over its batches,
after a warm-up step, and prints the peak resident memory above the model (``VmHWM`` of
``/proc/self/status``, Linux; glibc's mmap threshold fixed, so that freed tensors leave it)
and the time.
``--train-layers`` (default 2) keeps the training case within a small machine's memory:
activations kept for the backward pass grow with the layers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ONE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads(1)
from cgt.inference import CGTPredictor
from cgt.model import CGT
model = CGT(layers={layers})
predictor = CGTPredictor(model, "zinc", ["y"], "regression", [0.0], [1.0])
predictor.predict(["CCO"])  # warm-up
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
table = predictor.predict(["C" * {n}], max_atoms={n})
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(n={n}, error=table["error"][0], seconds=seconds,
                      peak_mb=(peak - before) / 1024)))
"""


TRAIN = """
import json, re, sys, time
sys.path.insert(0, {root!r})
import pandas as pd
import torch
torch.set_num_threads(1)
from torch_geometric.data import Batch
from cgt.data.batching import cut_batches
from cgt.data.zinc import zinc_source
from cgt.inference import featurize
from cgt.model import CGT
smiles = pd.read_csv(zinc_source(), usecols=["smiles"])["smiles"].tolist()[:31]
graphs = featurize(smiles[:16] + ["C" * 1000] + smiles[16:], "zinc", max_atoms=1000).graphs
runs = cut_batches([g.num_nodes for g in graphs], 32, {max_pairs})
model = CGT(layers={layers})
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
def step(batch):
    loss = torch.nn.functional.mse_loss(model(batch), torch.zeros(batch.num_graphs, 1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
def peak_mb():  # this process's own peak (ru_maxrss would start from the parent's at fork)
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) / 1024
step(Batch.from_data_list(graphs[:2]))  # warm-up
before = peak_mb()
start = time.perf_counter()
for low, high in runs:
    step(Batch.from_data_list(graphs[low:high]))
seconds = time.perf_counter() - start
print(json.dumps(dict(batches=[high - low for low, high in runs], seconds=seconds,
                      peak_mb=peak_mb() - before, before_mb=before)))
"""


def train(max_pairs: int | None, layers: int) -> dict:
    """Training steps over 31 ZINC molecules and a 1,000-atom one, cut by ``max_pairs``."""
    code = TRAIN.format(root=str(ROOT), max_pairs=max_pairs, layers=layers)
    # A fixed mmap threshold: glibc then returns every large tensor's memory when it is
    # freed, so the peak is that of live tensors (with its adaptive threshold, the same run
    # peaked anywhere between 0.9 and 2.2 GB).
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def one(n: int, layers: int) -> dict:
    code = ONE.format(root=str(ROOT), n=n, layers=layers)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def neighbours(layers: int) -> tuple[float, float, float]:
    sys.path.insert(0, str(ROOT))
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    from cgt.data.zinc import zinc_source
    from cgt.inference import CGTPredictor
    from cgt.model import CGT

    smiles = pd.read_csv(zinc_source(), usecols=["smiles"])["smiles"].tolist()[:64]
    predictor = CGTPredictor(CGT(layers=layers), "zinc", ["y"], "regression", [0.0], [1.0])
    predictor.predict(smiles[:4])

    spent: list[tuple[int, float]] = []  # (largest graph, seconds) per forward pass
    forward = predictor._predict_graphs

    def timed_forward(graphs, *args):
        start = time.perf_counter()
        out = forward(graphs, *args)
        spent.append((max(g.num_nodes for g in graphs), time.perf_counter() - start))
        return out

    predictor._predict_graphs = timed_forward

    def small_seconds(inputs) -> tuple[float, float, object]:
        """Seconds in the forward passes of small molecules only, and of all of them."""
        spent.clear()
        table = predictor.predict(inputs, batch_size=32)
        small = sum(s for largest, s in spent if largest < 1000)
        return small, sum(s for _, s in spent), table

    alone, _, reference = small_seconds(smiles)
    mixed, everything, table = small_seconds(smiles[:32] + ["C" * 1000] + smiles[32:])
    kept = table.drop(index=32).reset_index(drop=True)
    difference = ((kept["y"] - reference["y"]).abs() / reference["y"].abs().clip(lower=1)).max()
    assert difference < 1e-4, difference  # same predictions whatever shares their batch
    return alone, mixed, everything - mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 300, 1000])
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--train-layers", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from cgt.data.batching import DEFAULT_MAX_PAIRS
    print(f"one n-atom molecule, C=64, 8 heads, {args.layers} layers, CPU, 1 thread")
    print("| atoms | atom pairs | peak memory above the model (MB) | time (s) |")
    print("| --- | --- | --- | --- |")
    for n in args.sizes:
        row = one(n, args.layers)
        assert row["error"] == "", row
        print(f"| {n} | {n * n:,} | {row['peak_mb']:.0f} | {row['seconds']:.2f} |")
    alone, mixed, big = neighbours(args.layers)
    print(
        f"64 ZINC molecules, forward passes: {alone:.2f} s alone, {mixed:.2f} s with a "
        f"1,000-atom molecule in the middle of the list (its own pass: {big:.1f} s)"
    )
    print(f"training: 31 ZINC molecules + one 1,000-atom molecule, {args.train_layers} layers")
    print("| max_pairs | batches (molecules) | peak memory above the model (MB) | time (s) |"
          " memory before the steps (MB) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for max_pairs in (DEFAULT_MAX_PAIRS, None):
        row = train(max_pairs, args.train_layers)
        print(f"| {max_pairs} | {row['batches']} | {row['peak_mb']:.0f} | {row['seconds']:.1f} "
              f"| {row['before_mb']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
