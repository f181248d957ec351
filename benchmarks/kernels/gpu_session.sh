#!/usr/bin/env bash
# One GPU session for cgt.kernels, in the order that matters: versions, correctness,
# correctness under compute-sanitizer's memcheck (out-of-bounds accesses the
# interpreter hides), the benchmark table, the compiled reference, the tile sweep.
# Run from anywhere: it works in the repository root with PYTHONPATH=. (cgt need not be
# installed); logs go to $OUT (the device tool's folder) or the root's gpu-logs/:
#     bash benchmarks/kernels/gpu_session.sh
# Each step has its own time limit (590 s in all, to fit one 600 s device call), so a
# slow step leaves the later ones their time; partial output is kept in the logs.
set -uo pipefail
cd "$(dirname "$0")/../.."
logs=${OUT:-gpu-logs}
mkdir -p "$logs"
export PYTHONPATH=. PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
bench="$py benchmarks/kernels/bench_csa.py"

{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    $py -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
} 2>&1 | tee "$logs/versions.txt"

timeout 170 $bench --check 2>&1 | tee "$logs/check.txt"
check=$?
# The caching allocator would hide out-of-bounds accesses inside its pools.
PYTORCH_NO_CUDA_MEMORY_CACHING=1 timeout 100 compute-sanitizer --tool memcheck \
    $bench --check --quick --dtypes fp32 >"$logs/memcheck.txt" 2>&1
tail -n 20 "$logs/memcheck.txt"
if [ "$check" -ne 0 ]; then
    echo "correctness check failed (exit $check): no benchmark" | tee -a "$logs/check.txt"
    exit 1
fi
timeout 130 $bench --no-compile 2>&1 | tee "$logs/bench.txt"
timeout 140 $bench --cases zinc-128 n512 2>&1 | tee "$logs/bench_compiled.txt"
timeout 50 $bench --sweep --dtypes fp32 2>&1 | tee "$logs/sweep.txt"
