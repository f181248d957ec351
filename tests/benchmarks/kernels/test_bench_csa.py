"""benchmarks/kernels/bench_csa.py, the kernel's GPU check and benchmark, run on the CPU."""

import os
import runpy
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import torch
from rdkit import Chem

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "benchmarks" / "kernels" / "bench_csa.py"

# Runs the script as on a GPU box: from the source tree with PYTHONPATH=., cgt not
# installed (the editable install's finder is removed), neither RDKit nor jsonargparse
# importable.
AS_SOURCE_CHECKOUT = """
import os, runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path
                    if not getattr(f, "__module__", "").startswith("__editable__")]
sys.modules["rdkit"] = sys.modules["jsonargparse"] = None
sys.argv = ["benchmarks/kernels/bench_csa.py", "--tiny", "--dtypes", "fp32"]
try:
    runpy.run_path("benchmarks/kernels/bench_csa.py", run_name="__main__")
except SystemExit as exit:
    status = exit.code
kernels = sys.modules["cgt.kernels"].__file__
assert kernels == os.path.abspath("cgt/kernels/__init__.py"), kernels
sys.exit(status)
"""


@pytest.fixture(scope="module")
def bench():
    """The script's globals (``main`` does not run)."""
    return runpy.run_path(str(SCRIPT))


def test_tiny_mode_checks_and_prints_the_table_from_a_source_checkout():
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=".")
    result = subprocess.run(
        [sys.executable, "-c", AS_SOURCE_CHECKOUT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "# check PASSED" in out and "FAIL" not in out
    assert out.count("PASS ") == 3  # 3 cases, fp32
    for impl in ("kernel ", "kernel p=0.5", "eager", "compiled (eager)"):
        assert f"zinc-1     fp32  {impl}" in out
    assert "saved for backward" in out


def test_zinc_size_histogram_matches_the_shipped_dataset(bench):
    table = pd.read_csv(ROOT / "cgt" / "data" / "files" / "zinc" / "zinc12k.csv.gz")
    counts = Counter(Chem.MolFromSmiles(s).GetNumAtoms() for s in table.smiles)
    assert dict(counts) == bench["ZINC_SIZE_COUNTS"]


def test_int64_offset_check_logic_at_a_small_size(bench):
    """The GPU-only int64 check (a 5800-node graph) at a size the interpreter runs."""
    assert bench["check_int64_offsets"]("cpu", big=20, small=3, dtype=torch.float32)
