#!/usr/bin/env bash
# One GPU session for cgt.kernels in one device call of at most 600 s: versions, then the
# steps of bench_csa.py's SESSION_STEPS in order: correctness check, benchmark table,
# correctness under compute-sanitizer's memcheck (out-of-bounds accesses the interpreter
# hides), tile sweep, and last the torch.compile comparison.
# Run from anywhere: it works in the repository root with PYTHONPATH=. (cgt need not be
# installed); logs go to $OUT (the device tool's folder) or the root's gpu-logs/:
#     bash benchmarks/kernels/gpu_session.sh
# Every step has its own time limit (510 s in all) and runs whatever the earlier steps
# did, so a failing or slow step never takes a later one with it: the table is written
# even if the check fails (its log says so first). A step that could not finish within
# SESSION_BUDGET_S (540 s) from the start is skipped. steps.txt records each step's exit
# status (124: time limit) and seconds. Budget without a GPU:
#     TRITON_INTERPRET=1 PYTHONPATH=. python benchmarks/kernels/bench_csa.py --dry-run
set -uo pipefail
cd "$(dirname "$0")/../.."
logs=${OUT:-gpu-logs}
mkdir -p "$logs"
export PYTHONPATH=. PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
bench="$py benchmarks/kernels/bench_csa.py"
budget=540
start=$SECONDS

{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    $py -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
} 2>&1 | tee "$logs/versions.txt"

steps=$($bench --session-steps) || { echo "cannot list the session steps" >&2; exit 2; }
check_status=
: >"$logs/steps.txt"
while read -r name limit tool args; do
    elapsed=$((SECONDS - start))
    if [ $((elapsed + limit)) -gt "$budget" ]; then
        echo "$name skipped: ${elapsed} s elapsed + ${limit} s limit > ${budget} s" \
            | tee -a "$logs/steps.txt"
        continue
    fi
    log="$logs/$name.txt"
    : >"$log"
    if [ "$name" = bench ] && [ "$check_status" != 0 ]; then
        echo "# WARNING: the correctness check did not pass (exit ${check_status:-none}):" \
            "these timings are of a kernel not known to be correct" | tee -a "$log"
    fi
    began=$SECONDS
    if [ "$tool" = memcheck ]; then
        # The caching allocator would hide out-of-bounds accesses inside its pools.
        # shellcheck disable=SC2086
        PYTORCH_NO_CUDA_MEMORY_CACHING=1 timeout "$limit" \
            compute-sanitizer --tool memcheck $bench $args >>"$log" 2>&1
        status=$?
        tail -n 20 "$log"
    else
        # shellcheck disable=SC2086
        timeout "$limit" $bench $args 2>&1 | tee -a "$log"
        status=${PIPESTATUS[0]}
    fi
    [ "$name" = check ] && check_status=$status
    echo "$name exit $status in $((SECONDS - began)) s (limit $limit s)" | tee -a "$logs/steps.txt"
done <<<"$steps"
echo "session: $((SECONDS - start)) s" | tee -a "$logs/steps.txt"
[ "$check_status" = 0 ]
