"""``python -m cgt.predict --input FILE --output OUT --devices N``: one prediction process per
device of this node, launched by Lightning (Fabric's DDP launcher, the same machinery as
training).

Process r of N loads the model on its device and predicts shard r+1 of N of the input
(:func:`cgt.screening.screen` with ``shard=(r + 1, N)``) into its own shard file beside the
output, ``OUT-shard-{r+1}-of-{N}.EXT`` (resumable like any run). When every process is done,
process 0 concatenates the shards in order into OUT (:func:`cgt.tables.concat_outputs`;
written under a temporary name, then renamed) and removes them: OUT is, byte for byte, what
one process writes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cgt.inference import load_model
from cgt.screening import ScreenSummary, screen, temporary_beside
from cgt.tables import concat_outputs, output_format

__all__ = ["shard_path", "predict_on_devices"]


def shard_path(output: Path, shard: tuple[int, int]) -> Path:
    """Where process ``shard[0] - 1`` of ``shard[1]`` writes: ``OUT-shard-K-of-N.EXT``."""
    name = output.name
    suffix = "".join(output.suffixes[-2:]) if name.lower().endswith(".gz") else output.suffix
    stem = name[: len(name) - len(suffix)] if suffix else name
    return output.with_name(f"{stem}-shard-{shard[0]}-of-{shard[1]}{suffix}")


def predict_on_devices(
    device: str, devices: int, checkpoint: Path, source: Path, output: Path, **options: Any
) -> ScreenSummary | None:
    """Predicts ``source`` into ``output`` with ``devices`` processes on this node.

    Args:
        device: the accelerator type, ``"cpu"`` or ``"cuda"`` (``"cuda:0"`` counts as cuda).
        devices: processes, one per device.
        checkpoint, source, output: as for :func:`cgt.screening.screen`.
        options: the other keywords of :func:`~cgt.screening.screen` (not ``shard``).

    Returns:
        In process 0: the summary of all rows (rows, invalid rows; the examples of invalid
        rows are process 0's); ``None`` in the others.
    """
    import torch
    from lightning.fabric import Fabric

    accelerator = "cuda" if device.startswith("cuda") else "cpu"
    fabric = Fabric(accelerator=accelerator, devices=devices, strategy="ddp")
    fabric.launch()
    rank, world = fabric.global_rank, fabric.world_size
    model = load_model(checkpoint, device=fabric.device)
    summary = screen(model, source, shard_path(output, (rank + 1, world)), shard=(rank + 1, world),
                     **options)  # fmt: skip
    rows, invalid = fabric.all_reduce(
        torch.tensor([summary.rows, summary.invalid]), reduce_op="sum"
    )
    fabric.barrier()
    if rank != 0:
        return None
    shards = [shard_path(output, (k, world)) for k in range(1, world + 1)]
    temporary = temporary_beside(output)
    try:
        concat_outputs(shards, Path(temporary), output_format(output))
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for shard in shards:
        shard.unlink()
    summary.rows, summary.invalid = int(rows), int(invalid)
    return summary
