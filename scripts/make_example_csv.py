"""Make the example CSV shipped in ``cgt/data/files/examples/`` (reproducible, offline).

Takes every 25th molecule of the train split of the bundled ZINC 12k file (400 molecules) and
computes, with RDKit:

- ``logp``: Crippen ``MolLogP``;
- ``tpsa``: ``rdMolDescriptors.CalcTPSA`` (topological polar surface area, Å²);
- ``polar``: 1 if TPSA > 60 else 0 (a binary label derived from ``tpsa``).

Some cells are left empty on purpose, by row position, to show missing targets: ``logp`` on
rows 7, 27, 47, ... (every 20th from 7), ``tpsa`` on rows 11, 36, 61, ... (every 25th from 11)
and ``polar`` on rows 3, 33, 63, ... (every 30th from 3). ``polar`` is computed from the true
TPSA, so it stays known where only ``tpsa`` is blanked.

Usage::

    python scripts/make_example_csv.py [--output cgt/data/files/examples/zinc_props.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from rdkit import Chem
from rdkit.Chem import Crippen, rdMolDescriptors

ROOT = Path(__file__).resolve().parents[1]
ZINC = ROOT / "cgt" / "data" / "files" / "zinc" / "zinc12k.csv.gz"
DEFAULT_OUTPUT = ROOT / "cgt" / "data" / "files" / "examples" / "zinc_props.csv"
STRIDE = 25
TPSA_THRESHOLD = 60.0


def make_table() -> pd.DataFrame:
    """The example table: columns ``id, smiles, logp, tpsa, polar`` (400 rows)."""
    zinc = pd.read_csv(ZINC)
    train = zinc[zinc["split"] == "train"].iloc[::STRIDE]
    rows = []
    for idx, smiles in zip(train["pyg_idx"], train["smiles"], strict=True):
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            raise ValueError(f"RDKit cannot parse ZINC train molecule {idx}: {smiles!r}")
        tpsa = rdMolDescriptors.CalcTPSA(mol)
        rows.append(
            {
                "id": f"zinc12k-train-{idx}",
                "smiles": smiles,
                "logp": round(Crippen.MolLogP(mol), 4),
                "tpsa": round(tpsa, 2),
                "polar": float(tpsa > TPSA_THRESHOLD),
            }
        )
    table = pd.DataFrame(rows)
    position = pd.RangeIndex(len(table))
    table.loc[position % 20 == 7, "logp"] = float("nan")
    table.loc[position % 25 == 11, "tpsa"] = float("nan")
    table.loc[position % 30 == 3, "polar"] = float("nan")
    table["polar"] = table["polar"].astype("Int64")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    table = make_table()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output, index=False)
    missing = table[["logp", "tpsa", "polar"]].isna().sum().to_dict()
    print(f"wrote {args.output}: {len(table)} rows, missing cells {missing}")


if __name__ == "__main__":
    main()
