"""ZINC-full featurizing and caching time, with and without featurizing workers.

    .venv/bin/python benchmarks/bench_zinc_full_cache.py --path zinc_full.csv.gz [--workers 2 0]

For each worker count, in a fresh process and a fresh cache folder: builds the three
ZINC-full splits (249,456 molecules) with ``ZINC(split, subset=False, workers=W)``, then
loads the cached splits again in a second fresh process. Prints one table row per worker
count: seconds per split, total, the load time, peak RSS, and the load average at the start.
Target (issue 12): the build under 2 minutes on this 2-core machine; the load in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, resource, sys, time
from cgt.data.zinc import ZINC
path, root, workers, featurizer = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
workers = None if workers == "auto" else int(workers)
times = {}
for split in ("train", "val", "test"):
    start = time.perf_counter()
    ZINC(split, subset=False, path=path, root=root, featurizer=featurizer, workers=workers)
    times[split] = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
print(json.dumps({"times": times, "rss_gb": max(peak, children)}))
"""


def run(path: str, root: str, workers: str, featurizer: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, path, root, workers, featurizer],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", required=True, help="zinc_full.csv.gz")
    parser.add_argument("--workers", nargs="+", default=["2", "0"], help="counts or 'auto'")
    parser.add_argument("--featurizer", default="zinc")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}; featurizer {args.featurizer}")
    print("| workers | train (s) | val (s) | test (s) | build (s) | load (s) | peak RSS (GB) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as root:
            built = run(args.path, root, workers, args.featurizer)
            start = time.perf_counter()
            run(args.path, root, workers, args.featurizer)
            load = time.perf_counter() - start
        t = built["times"]
        print(
            f"| {workers} | {t['train']:.1f} | {t['val']:.1f} | {t['test']:.1f} | "
            f"{sum(t.values()):.1f} | {load:.1f} | {built['rss_gb']:.2f} |",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
