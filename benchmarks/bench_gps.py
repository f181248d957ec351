"""CGT (configs/zinc.yaml) vs GraphGPS of the same width and depth: CPU training speed.

Both models train (forward, L1 loss, backward, AdamW step) on the very same ZINC-12k
training batches (batch size 32, the datamodule's seeded shuffle). GraphGPS is built from
PyTorch Geometric's ``GPSConv`` (local ``GINEConv`` + global multi-head attention, 8 heads,
attention dropout 0.5, batch norm) with a random-walk structural encoding (the 20 landing
probabilities, encoded like the CGT's node encoder), bond-type edge embeddings and the
same head (64 -> 32 -> 16 -> 1, sum pooling). The CGT computes its pair features inside
every forward pass (it is charged for them); the GPS random-walk encoding is computed once
before timing, as GraphGPS does at dataset load time.

Each model runs in its own process: ``--warmup`` untimed steps, then ``--batches`` timed
steps; seconds per epoch = the median seconds per step (robust to other processes sharing
the CPU) x the number of training batches in an epoch (extrapolated, not a full epoch).
Peak memory = the process's peak resident set during the timed steps (Linux ``VmHWM``,
reset before timing); the table also shows the resident set before them (data, libraries
and the model loaded).

    python benchmarks/bench_gps.py                # the table
    python benchmarks/bench_gps.py --batches 20   # quicker
    python benchmarks/bench_gps.py --threads 1    # one CPU thread
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

MODELS = ("cgt", "gps")


def build_gps(channels: int = 64, layers: int = 10, heads: int = 8, steps: int = 20) -> nn.Module:
    """GraphGPS of the CGT's width and depth from PyG's ``GPSConv``."""
    from torch_geometric.nn import GINEConv, GPSConv

    from cgt.nn.heads import GraphHead

    class GPS(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            pe_channels = channels * 7 // 16
            self.atom = nn.Embedding(28, channels - pe_channels)
            self.pe = nn.Sequential(nn.BatchNorm1d(steps), nn.Linear(steps, pe_channels))
            self.bond = nn.Embedding(5, channels)
            self.layers = nn.ModuleList(
                GPSConv(
                    channels,
                    GINEConv(
                        nn.Sequential(
                            nn.Linear(channels, channels), nn.ReLU(), nn.Linear(channels, channels)
                        )
                    ),
                    heads=heads,
                    attn_kwargs={"dropout": 0.5},
                )
                for _ in range(layers)
            )
            self.head = GraphHead(channels, 1, "sum")

        def forward(self, batch) -> torch.Tensor:
            x = torch.cat([self.atom(batch.atom_type), self.pe(batch.rwse)], dim=-1)
            edge_attr = self.bond(batch.bond_type)
            for layer in self.layers:
                x = layer(x, batch.edge_index, batch.batch, edge_attr=edge_attr)
            return self.head(x, batch.batch, batch.num_graphs)

    return GPS()


def _memory_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def run_one(name: str, batches: int, warmup: int, threads: int | None) -> dict:
    """Times ``batches`` training steps of one model in this process."""
    if threads:
        torch.set_num_threads(threads)
    from cgt.data import ZINCDataModule, pair_features
    from cgt.model import CGT

    torch.manual_seed(0)
    data = ZINCDataModule(batch_size=32, seed=0)
    data.setup("fit")
    loader = data.train_dataloader()
    steps_per_epoch = len(loader)
    loaded = []
    for batch in loader:
        loaded.append(batch)
        if len(loaded) == warmup + batches:
            break
    if name == "gps":
        for batch in loaded:
            batch.rwse = pair_features(batch, 20).landing
        model = build_gps()
    else:
        model = CGT(backend="torch")  # the zinc.yaml model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)
    model.train()

    def step(batch) -> None:
        optimizer.zero_grad()
        loss = nn.functional.l1_loss(model(batch), batch.y.view(-1, 1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for batch in loaded[:warmup]:
        step(batch)
    rss_before = _memory_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM (peak RSS) to the current RSS
    times = []
    for batch in loaded[warmup:]:
        start = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {
        "model": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "s_per_step": seconds,
        "steps_per_epoch": steps_per_epoch,
        "s_per_epoch": seconds * steps_per_epoch,
        "rss_before_mib": rss_before / 1024,
        "peak_rss_mib": _memory_kib("VmHWM") / 1024,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per model")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--only", choices=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_one(args.only, args.batches, args.warmup, args.threads)))
        return
    rows = []
    for name in MODELS:
        command = [sys.executable, __file__, "--only", name]
        command += ["--batches", str(args.batches), "--warmup", str(args.warmup)]
        command += ["--threads", str(args.threads)] if args.threads else []
        result = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    print(
        f"ZINC-12k train, batch 32, width 64, 10 layers, 8 heads; median of {args.batches} "
        f"timed steps after {args.warmup} warm-up steps, extrapolated to "
        f"{rows[0]['steps_per_epoch']} steps/epoch; torch {torch.__version__}, "
        f"{rows[0]['threads']} threads"
    )
    print(
        "| model | parameters | s/step (median) | s/epoch (extrapolated) "
        "| RSS before (MiB) | peak RSS (MiB) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['model'].upper()} | {row['parameters']:,} | {row['s_per_step']:.3f} | "
            f"{row['s_per_epoch']:.0f} | {row['rss_before_mib']:.0f} | {row['peak_rss_mib']:.0f} |"
        )
    ratio = rows[0]["s_per_epoch"] / rows[1]["s_per_epoch"]
    print(f"CGT / GPS time per epoch: {ratio:.2f}" + (" (CGT slower)" if ratio > 1 else ""))


if __name__ == "__main__":
    main()
