import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


TILE_32X8 = ["--block-m", "32", "--block-n", "8", "--heads-per-program", "2", "--num-warps", "8"]


@pytest.mark.parametrize(
    ("tile", "dtypes"),
    [([], ["fp32", "bf16", "fp16"]), (TILE_32X8, ["fp32"])],
    ids=["default tile", "32x8 tile of the GPU check"],
)
def test_kernels_compile_for_h100_without_spills(tile, dtypes):
    """Real code generation for sm_90 (the interpreter compiles nothing), no GPU needed:
    the default tile in every dtype and the other tile that bench_csa.py --check runs."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = "."  # as documented: the script runs from the source tree
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/kernels/compile_check.py",
            "--arch",
            "90",
            "--dtypes",
            *dtypes,
            *tile,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert len(rows) == 6 * len(dtypes)  # 6 kernels per dtype
    for kernel, dtype, dropout, registers, spills in rows:
        assert int(registers) <= 255
        assert int(spills) == 0, f"{kernel} ({dtype}, dropout {dropout}) spills registers"
