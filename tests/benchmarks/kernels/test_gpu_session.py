"""benchmarks/kernels/gpu_session.sh without a GPU: python, nvidia-smi and compute-sanitizer
are stubs, so what is tested is the script's control flow and its budget."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "benchmarks" / "kernels" / "gpu_session.sh"
BENCH = ROOT / "benchmarks" / "kernels" / "bench_csa.py"

# A python3 that lists the real session steps, prints versions, and otherwise records its
# arguments; the full correctness check fails (exit 1), as a broken kernel would.
FAKE_PYTHON = f"""#!/usr/bin/env bash
case "$*" in
    *--session-steps*) exec {sys.executable} "$@" ;;
    -c*) echo "torch x triton y"; exit 0 ;;
esac
echo "ran: $*"
case "$*" in
    *--check*--quick*) exit 0 ;;
    *--check*) echo "FAIL  mixed"; exit 1 ;;
esac
exit 0
"""


def stub(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(0o755)


def test_every_step_runs_in_order_and_a_failed_check_keeps_the_table(tmp_path):
    bin_dir, logs = tmp_path / "bin", tmp_path / "logs"
    bin_dir.mkdir()
    stub(bin_dir, "fakepython", FAKE_PYTHON)
    stub(bin_dir, "nvidia-smi", "#!/usr/bin/env bash\necho 'NVIDIA H200, 1, 143771 MiB'\n")
    stub(bin_dir, "compute-sanitizer", '#!/usr/bin/env bash\nshift 2\nexec "$@"\n')
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        PYTHON=str(bin_dir / "fakepython"),
        OUT=str(logs),
    )
    env.pop("TRITON_INTERPRET", None)
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1, result.stdout + result.stderr  # the check failed
    steps = (logs / "steps.txt").read_text().splitlines()
    names = [line.split()[0] for line in steps[:-1]]
    assert names == ["check", "bench", "memcheck", "sweep", "compiled"]
    assert steps[0].startswith("check exit 1") and all(" exit 0 " in s for s in steps[1:-1])
    bench = (logs / "bench.txt").read_text()
    assert "WARNING: the correctness check did not pass" in bench
    assert "ran: benchmarks/kernels/bench_csa.py --no-compile" in bench
    assert "--compiled-only" in (logs / "compiled.txt").read_text()
    assert "--quick --dtypes fp32" in (logs / "memcheck.txt").read_text()


def test_the_session_fits_one_device_call():
    bench = runpy.run_path(str(BENCH))
    steps = bench["SESSION_STEPS"]
    assert sum(step.limit_s for step in steps) <= bench["SESSION_BUDGET_S"] <= 570
    assert [step.name for step in steps][-1] == "compiled"  # torch.compile last
    names = [step.name for step in steps]
    assert names.index("bench") == 1  # the table right after the check


def test_no_spilling_tile_is_compiled_and_memcheck_covers_empty_graphs():
    bench = runpy.run_path(str(BENCH))
    import torch

    cases = bench["check_cases"](False, torch.Generator().manual_seed(0))
    tiles = {tuple(sorted(c.options.items())) for c in cases}
    assert len(tiles) == 2  # the default tile and one other
    spilling = (("block_m", 32), ("block_n", 16), ("heads_per_program", 8), ("num_warps", 8))
    assert spilling not in tiles
    assert bench["TILE_32X8"] == dict(block_m=32, block_n=8, heads_per_program=2, num_warps=8)
    all_dtypes = [c.name for c in cases if c.dtypes is None]
    assert all_dtypes == ["mixed", "mixed dropout", "zinc-128", "zinc-128 dropout"]
    empty = next(c for c in cases if c.name in bench["QUICK_CASES"] and 0 in c.sizes)
    assert empty.sizes.count(0) >= 2
