"""Train the zinc.yaml CGT on a GPU for a fixed time; report time per step/epoch and val MAE.

The GPU machine has PyTorch, PyG, Triton and Lightning but no RDKit, and cgt is not
installed there. So the ZINC graphs are featurized here, once, into a cache file that
travels with the working tree, and this script imports cgt from the source tree without
RDKit (only ``cgt.data``'s RDKit-free modules are loaded):

    # here (RDKit): featurize ZINC-12k into a cache (about 10 MB)
    python benchmarks/gpu_train.py --make-cache benchmarks/zinc12k_graphs.pt
    # on the GPU machine, from the repository root
    python3 benchmarks/gpu_train.py --cache benchmarks/zinc12k_graphs.pt --minutes 8 \
        --json $OUT/gpu_train.json

The recipe is zinc.yaml's (width 64, 10 layers, 8 heads, attention dropout 0.5, batch 32,
AdamW 1e-3 / 1e-5, gradient clipping 1.0, L1, 50 warm-up epochs of a 2000-epoch cosine),
run for as many whole epochs as fit in ``--minutes``. It prints, per epoch, the seconds, the
mean seconds per step (CUDA-synchronised) and the validation MAE, and at the end a summary.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
FIELDS = {  # field -> dimension along which the graphs' tensors are concatenated
    "atom_type": 0,
    "edge_index": 1,
    "bond_type": 0,
    "ring_index": 1,
    "ring_size": 0,
    "ring_aromatic": 0,
    "cycle_index": 1,
    "cycle_size": 0,
    "y": 0,
}


def import_cgt_from_source() -> None:
    """Makes ``cgt`` importable from the source tree where it is not installed.

    ``cgt`` and ``cgt.data`` import their names on first use, so the model, ``MolGraph``
    and ``pair_features`` work without RDKit.
    """
    sys.path.insert(0, str(REPO))


def make_cache(path: Path) -> None:
    """Featurizes ZINC-12k (train/val/test) with the datamodule and saves plain tensors."""
    from cgt.data import ZINCDataModule

    data = ZINCDataModule(batch_size=32)
    data.setup("fit")
    data.setup("test")
    splits = {}
    for split in ("train", "val", "test"):
        store = data.datasets[split]
        graphs = [store[i] for i in range(len(store))]
        splits[split] = {
            "num_nodes": torch.tensor([g.num_nodes for g in graphs]),
            **{
                field: torch.cat([getattr(g, field) for g in graphs], dim)
                for field, dim in FIELDS.items()
            },
            **{
                f"{field}_sizes": torch.tensor([getattr(g, field).shape[dim] for g in graphs])
                for field, dim in FIELDS.items()
            },
        }
    torch.save({"format": "cgt-zinc-graphs-1", "splits": splits}, path)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def load_cache(path: Path) -> dict[str, list]:
    """The graphs of each split, as ``cgt.data.MolGraph`` objects."""
    from cgt.data import MolGraph

    cache = torch.load(path, weights_only=True)
    if cache.get("format") != "cgt-zinc-graphs-1":
        raise ValueError(f"{path} is not a cache written by --make-cache")
    out = {}
    for split, tensors in cache["splits"].items():
        parts = {
            field: torch.split(tensors[field], tensors[f"{field}_sizes"].tolist(), dim)
            for field, dim in FIELDS.items()
        }
        out[split] = [
            MolGraph(num_nodes=int(n), **{field: parts[field][i] for field in FIELDS})
            for i, n in enumerate(tensors["num_nodes"].tolist())
        ]
    return out


@torch.no_grad()
def evaluate(model, loader, device, limit_batches: int | None = None) -> float:
    model.eval()
    total, count = 0.0, 0
    for step, batch in enumerate(loader):
        if step == limit_batches:
            break
        batch = batch.to(device)
        total += (model(batch) - batch.y).abs().sum().item()
        count += batch.num_graphs
    model.train()
    return total / count


def train(args: argparse.Namespace) -> dict:
    from torch_geometric.loader import DataLoader

    from cgt.model import CGT

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    graphs = load_cache(args.cache)
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(graphs["train"], 32, shuffle=True, generator=generator)
    val_loader = DataLoader(graphs["val"], 256)
    model = CGT(backend=args.backend).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)
    warmup, max_epochs = 50, 2000

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / (max_epochs - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    print(
        f"device {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}, "
        f"backend {args.backend}, {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{len(train_loader)} steps/epoch"
    )
    epochs, budget, start = [], args.minutes * 60, time.perf_counter()
    while time.perf_counter() - start < budget:
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_start = time.perf_counter()
        steps = 0
        for batch in train_loader:
            if steps == args.limit_batches:
                break
            steps += 1
            batch = batch.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.l1_loss(model(batch), batch.y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - epoch_start
        scheduler.step()
        val_mae = evaluate(model, val_loader, device, args.limit_batches)
        epochs.append(
            {"epoch": len(epochs), "seconds": seconds, "s_per_step": seconds / steps,
             "val_mae": val_mae}
        )  # fmt: skip
        ms_per_step = 1e3 * seconds / steps
        print(
            f"epoch {len(epochs) - 1:3d}  {seconds:7.2f} s  {ms_per_step:7.2f} ms/step  "
            f"val MAE {val_mae:.4f}",
            flush=True,
        )
    steady = epochs[1:] or epochs  # epoch 0 includes compilation / autotuning
    on_gpu = device.type == "cuda"
    summary = {
        "device": torch.cuda.get_device_name() if on_gpu else "cpu",
        "backend": args.backend,
        "epochs": len(epochs),
        "steps_per_epoch": len(train_loader),
        "s_per_epoch": sum(e["seconds"] for e in steady) / len(steady),
        "s_per_step": sum(e["s_per_step"] for e in steady) / len(steady),
        "val_mae": [e["val_mae"] for e in epochs],
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if on_gpu else None,
    }
    print(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--make-cache", type=Path, help="featurize ZINC-12k into this file")
    parser.add_argument("--cache", type=Path, help="train from this cache file")
    parser.add_argument("--minutes", type=float, default=8.0, help="training time budget")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "triton"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--limit-batches", type=int, help="train/val batches per epoch (a quick smoke check)"
    )
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()
    import_cgt_from_source()  # this tree's cgt, also for --make-cache (its graph fields)
    if args.make_cache:
        make_cache(args.make_cache)
        return
    if not args.cache:
        parser.error("give --make-cache PATH (here) or --cache PATH (on the GPU machine)")
    summary = train(args)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
