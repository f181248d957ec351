"""The uncertainty table of README "Uncertainty": ensemble runs' metrics.json side by side.

    .venv/bin/python benchmarks/uncertainty_table.py runs/sol-ens-0 runs/sol-ens-1 runs/sol-ens-2

Each argument is the run directory of ``python -m cgt.train --ensemble N`` (one per seed).
Prints, per run and as mean ± std over the runs: the test RMSE of the single model
(member 0) and the mean over members, the ensemble's test RMSE, and for the calibrated
ensemble and member 0's calibrated MC dropout the test coverage of the 68% and 95%
intervals, the miscalibration area, the Gaussian NLL, the Spearman correlation of |error|
with the predicted std and the MAE ratio of the 10% most uncertain molecules to the rest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SCORES = (
    ("coverage_68", "cov68"),
    ("coverage_95", "cov95"),
    ("miscalibration_area", "miscal"),
    ("nll", "NLL"),
    ("spearman_error_std", "Spearman"),
    ("top10_mae_ratio", "top10 MAE ratio"),
)


def rows(run: Path) -> dict[str, float]:
    """The numbers of one ensemble run (its first target)."""
    metrics = json.loads((run / "metrics.json").read_text())
    ensemble = metrics["ensemble"]
    target = next(iter(ensemble["test_uncertainty"]))
    members = [m["test_rmse"] for m in metrics["member_metrics"]]
    row = {
        "single RMSE": members[0],
        "members' mean RMSE": float(np.mean(members)),
        "ensemble RMSE": ensemble["test_rmse"],
        "ensemble std scale": ensemble["std_scale"][0],
    }
    for key, name in SCORES:
        row[f"ensemble {name}"] = ensemble["test_uncertainty"][target][key]
    mc = metrics.get("mc_dropout")
    if mc:
        first = mc["members"][0]
        row["MC dropout RMSE"] = first["test_rmse"]
        row["MC dropout std scale"] = first["std_scale"][0]
        for key, name in SCORES:
            row[f"MC dropout {name}"] = first["test_uncertainty"][target][key]
    row["fit seconds (all members)"] = metrics["fit_seconds"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="ensemble run directories")
    args = parser.parse_args()
    table = {run.name: rows(run) for run in args.runs}
    names = list(next(iter(table.values())))
    print("| | " + " | ".join(table) + " | mean ± std |")
    print("| --- |" + " ---: |" * (len(table) + 1))
    for name in names:
        values = [table[run].get(name, np.nan) for run in table]
        cells = " | ".join(f"{v:.3f}" for v in values)
        print(f"| {name} | {cells} | {np.mean(values):.3f} ± {np.std(values):.3f} |")


if __name__ == "__main__":
    main()
