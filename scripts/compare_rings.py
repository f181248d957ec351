"""How the paper's rings (chordless cycles) differ from RDKit's SSSR on the shipped ZINC 12k.

    python scripts/compare_rings.py [--molecules 12000] [--bound 18]

Prints, over the molecules (all splits of ``cgt/data/files/zinc/zinc12k.csv.gz``): how many
molecules and ordered atom pairs get a different ring category (no / bonded / not bonded)
from the two definitions, in which direction, the largest SSSR ring and chordless cycle, and
the largest chordless cycle with a loose bound (40 atoms) to show what the bound cuts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this tree's cgt

import pandas as pd  # noqa: E402
from rdkit import Chem  # noqa: E402

from cgt.data import featurize_smiles, pair_features  # noqa: E402
from cgt.data.rings import MAX_CYCLE_LENGTH, chordless_cycles  # noqa: E402
from cgt.data.zinc import zinc_source  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=12000)
    args = parser.parse_args()
    smiles = pd.read_csv(zinc_source(), usecols=["smiles"])["smiles"].tolist()[: args.molecules]
    molecules = pairs = ring_pairs = only_paper = only_sssr = 0
    largest_sssr = largest_cycle = largest_loose = 0
    examples: list[str] = []
    start = time.perf_counter()
    for text in smiles:
        graph = featurize_smiles(text)
        features = pair_features(graph, 1)
        paper, sssr = features.ring, features.ring_sssr
        differ = paper != sssr
        pairs += paper.numel()
        ring_pairs += int(((paper > 0) | (sssr > 0)).sum())
        only_paper += int((differ & (sssr == 0)).sum())
        only_sssr += int((differ & (paper == 0)).sum())
        if differ.any():
            molecules += 1
            if len(examples) < 5:
                examples.append(text)
        largest_sssr = max([largest_sssr, *graph.ring_size.tolist()])
        largest_cycle = max([largest_cycle, *graph.cycle_size.tolist()])
        if graph.cycle_size.numel() > graph.ring_size.numel():  # only where they can differ
            loose = chordless_cycles(Chem.MolFromSmiles(text), 40)
            largest_loose = max([largest_loose, *map(len, loose)])
    seconds = time.perf_counter() - start
    print(f"{len(smiles)} ZINC 12k molecules, chordless cycles of at most {MAX_CYCLE_LENGTH} atoms")
    print("| what | count |")
    print("| --- | --- |")
    print(f"| molecules whose ring pairs differ | {molecules} |")
    print(f"| ordered pairs in a common ring (either definition) | {ring_pairs} of {pairs} |")
    print(f"| ordered pairs in a common chordless cycle, no common SSSR ring | {only_paper} |")
    print(f"| ordered pairs in a common SSSR ring, no common chordless cycle | {only_sssr} |")
    print(f"| largest SSSR ring | {largest_sssr} |")
    print(f"| largest chordless cycle (bound {MAX_CYCLE_LENGTH}) | {largest_cycle} |")
    print(f"| largest chordless cycle (bound 40, where the two can differ) | {largest_loose} |")
    print(f"first molecules that differ: {', '.join(examples)}")
    print(f"({seconds:.1f} s)")


if __name__ == "__main__":
    main()
