"""Correctness check and benchmark of the fused chromatic attention kernel.

Run from the repository root, which ``PYTHONPATH=.`` puts on the path (cgt need not be
installed); needs torch and triton only (no RDKit, no jsonargparse)::

    PYTHONPATH=. python benchmarks/kernels/bench_csa.py --check  # GPU correctness: run it first
    PYTHONPATH=. python benchmarks/kernels/bench_csa.py          # the benchmark table (GPU)
    PYTHONPATH=. python benchmarks/kernels/bench_csa.py --sweep  # tile shapes, for defaults (GPU)
    # bytes kept for the backward (any device)
    PYTHONPATH=. python benchmarks/kernels/bench_csa.py --saved --cases zinc-128
    # CPU, through Triton's interpreter
    TRITON_INTERPRET=1 PYTHONPATH=. python benchmarks/kernels/bench_csa.py --tiny

``--check`` compares the kernel with the PyTorch reference
(:func:`cgt.nn.functional.chromatic_attention`, in fp32) on fresh random inputs,
forward and all five gradients, with every output buffer poisoned (NaN) before
the launch, fp32 / fp16 / bf16, with and without dropout (the reference is fed
:func:`cgt.kernels.dropout_mask`), checks that gradients are bitwise repeatable,
and checks int64 offsets on a batch whose pair tensors exceed 2³¹ elements.

The benchmark prints, for forward and forward+backward: the median time, the peak
memory above the inputs and the bytes saved for the backward (tensors autograd
keeps, the inputs excluded) of (a) the kernel, (b) the eager reference, (c) the
reference under ``torch.compile``; on ZINC-like batches (graph sizes drawn from the
12k subset's size distribution) and on graphs of 128 and 512 nodes; plus the
kernel's achieved bandwidth for the bytes it must move, against a device-to-device
copy measured in the same run. ``--tiny`` runs the check and the table at tiny
sizes (correctness only: CPU timings of the interpreter mean nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import Tensor

import cgt.kernels as kernels
from cgt.kernels import _buffers
from cgt.nn.functional import chromatic_attention as reference

#: Heavy-atom counts of the 12,000 molecules of ZINC 12k (train + val + test), counted
#: with RDKit from cgt/data/files/zinc/zinc12k.csv.gz (mean 23.16 atoms); a test
#: recounts them.
ZINC_SIZE_COUNTS = {
    9: 3, 10: 11, 11: 34, 12: 55, 13: 86, 14: 140, 15: 214, 16: 293, 17: 395, 18: 548,
    19: 707, 20: 854, 21: 977, 22: 875, 23: 1045, 24: 1132, 25: 1102, 26: 952, 27: 748,
    28: 511, 29: 351, 30: 287, 31: 228, 32: 182, 33: 111, 34: 86, 35: 50, 36: 20, 37: 3,
}  # fmt: skip

NAMES = ("y", "dq", "dk", "dv", "dpair_att", "dpair_val")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
#: Norm-wise relative error allowed against the fp32 reference, per input dtype.
TOLERANCE = {torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 2e-2}


# ----------------------------------------------------------------------------------
# The GPU session's steps and their dry run
# ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of ``gpu_session.sh``: its time limit (s), a wrapper tool, its arguments."""

    name: str
    limit_s: int
    tool: str  # "-" or "memcheck" (compute-sanitizer --tool memcheck)
    argv: tuple[str, ...]


#: The GPU session, in order (``gpu_session.sh`` runs exactly these; ``--dry-run`` times
#: them here). The table comes right after the check, so that no later step can take it
#: away; torch.compile comes last with its own small limit. Limits add up to 510 s, which
#: leaves ~90 s of a 600 s device call for the start and the versions.
SESSION_STEPS = (
    Step("check", 140, "-", ("--check",)),
    Step("bench", 110, "-", ("--no-compile",)),
    Step("memcheck", 90, "memcheck", ("--check", "--quick", "--dtypes", "fp32")),
    Step("sweep", 80, "-", ("--sweep", "--dtypes", "fp32")),
    Step("compiled", 90, "-", ("--compiled-only", "--cases", "zinc-128", "--dtypes", "fp32")),
)
#: The whole session must finish within this (one device call is at most 600 s).
SESSION_BUDGET_S = 540

#: Projection constants for ``--dry-run`` (GPU seconds): one Triton compilation of a
#: kernel variant for sm_90 (non-spilling tiles took ~0.5-2 s with Triton 3.7; 2 s is
#: conservative); one ``triton.testing.do_bench`` measurement (25 ms warm-up + 100 ms
#: of repetitions + synchronisation); one Inductor compilation of a dynamo graph, forward
#: and backward (a rough figure); starting Python, torch and CUDA in a step; the same
#: under compute-sanitizer, whose kernels also run 10-100x slower.
COMPILE_S, TIMED_S, INDUCTOR_GRAPH_S, START_S, SANITIZER_START_S = 2.0, 0.2, 8.0, 8.0, 25.0


class _DryRun:
    """State of ``--dry-run``: tiny inputs, and what would be compiled and timed."""

    def __init__(self) -> None:
        self.active = False
        self.declared = "fp32"  # the dtype a GPU run would use (the interpreter has no bf16)
        self.variants: set[tuple] = set()
        self.timed = 0
        self.backend: Callable | None = None  # counts dynamo graphs instead of Inductor

    def launched(self, kernel: str, constexprs: dict) -> None:
        """A launch: one variant per kernel, dtype and compile-time constants (the
        dropout-mask kernel reads no input tensor of the dtype)."""
        dtype = "-" if kernel == "_dropout_mask_kernel" else self.declared
        self.variants.add((kernel, dtype, tuple(sorted(constexprs.items()))))


DRY_RUN = _DryRun()


def dry_sizes(sizes: list[int]) -> list[int]:
    """``sizes`` as they are, or at most 4 graphs of at most 5 nodes in a dry run (what is
    compiled depends on the tile, head shape, dropout and dtype, not on the sizes)."""
    return [min(n, 5) for n in sizes[:4]] if DRY_RUN.active else sizes


def executable(dtype: torch.dtype) -> torch.dtype:
    """The dtype to run: bf16 runs as fp16 in a dry run (the interpreter has no bf16)."""
    return torch.float16 if DRY_RUN.active and dtype == torch.bfloat16 else dtype


@contextmanager
def declared_dtype(name: str):
    previous, DRY_RUN.declared = DRY_RUN.declared, name
    try:
        yield
    finally:
        DRY_RUN.declared = previous


class _CountedKernel:
    """A Triton kernel whose launches are recorded (``kernel[grid](...)``)."""

    def __init__(self, name: str, kernel) -> None:
        self.name, self.kernel = name, kernel

    def __getitem__(self, grid):
        launch = self.kernel[grid]

        def run(*args, **constexprs):
            DRY_RUN.launched(self.name, constexprs)
            return launch(*args, **constexprs)

        return run


def count_launches() -> None:
    """Records every kernel launch of :mod:`cgt.kernels` (the dry run)."""
    from cgt.kernels import csa, dropout

    for module in (csa, dropout):
        for name in dir(module):
            if name.endswith("_kernel") and not isinstance(getattr(module, name), _CountedKernel):
                setattr(module, name, _CountedKernel(name, getattr(module, name)))


def dry_run(main: Callable[[list[str]], int]) -> int:
    """Runs every step of SESSION_STEPS here under the interpreter, at tiny sizes, and
    prints the projected GPU time of each from what it would compile and time."""
    import torch._dynamo.testing

    DRY_RUN.active = True
    count_launches()
    compiled_before: set[tuple] = set()
    print("# dry run of gpu_session.sh under the Triton interpreter (tiny sizes)")
    print(
        f"# projection: {COMPILE_S} s per new kernel variant (Triton's disk cache serves "
        f"later steps), {TIMED_S} s per timed measurement, {INDUCTOR_GRAPH_S} s per "
        f"Inductor graph, {START_S} s start ({SANITIZER_START_S} s under compute-sanitizer)"
    )
    header = (
        f"{'step':<9} {'limit s':>7} {'variants':>8} {'new compiles':>12} {'timed':>6} "
        f"{'graphs':>6} {'projected s':>11} {'here s':>7}  status"
    )
    print(header)
    total_limit = total_projected = 0.0
    ok = True
    for step in SESSION_STEPS:
        DRY_RUN.variants, DRY_RUN.timed = set(), 0
        counter = torch._dynamo.testing.CompileCounter()
        DRY_RUN.backend = counter
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()) as out:
            status = main(list(step.argv))
        seconds = time.perf_counter() - start
        new = DRY_RUN.variants - compiled_before
        compiled_before |= DRY_RUN.variants
        graphs = counter.frame_count
        projected = (
            (SANITIZER_START_S if step.tool == "memcheck" else START_S)
            + len(new) * COMPILE_S
            + DRY_RUN.timed * TIMED_S
            + graphs * INDUCTOR_GRAPH_S
        )
        fits = projected <= step.limit_s and status == 0 and "FAIL" not in out.getvalue()
        ok &= fits
        total_limit += step.limit_s
        total_projected += projected
        print(
            f"{step.name:<9} {step.limit_s:>7} {len(DRY_RUN.variants):>8} {len(new):>12} "
            f"{DRY_RUN.timed:>6} {graphs:>6} {projected:>11.0f} {seconds:>7.1f}  "
            f"{'ok' if fits else 'OVER LIMIT or FAILED'}"
        )
    ok &= total_limit <= SESSION_BUDGET_S
    print(
        f"{'total':<9} {total_limit:>7.0f} {'':>8} {len(compiled_before):>12} {'':>6} {'':>6} "
        f"{total_projected:>11.0f}  budget {SESSION_BUDGET_S} s: "
        f"{'ok' if ok else 'EXCEEDED'}"
    )
    return 0 if ok else 1


# ----------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------


def zinc_sizes(num_graphs: int, generator: torch.Generator) -> list[int]:
    """Graph sizes drawn from ZINC 12k's size distribution."""
    sizes = torch.tensor(list(ZINC_SIZE_COUNTS))
    weights = torch.tensor(list(ZINC_SIZE_COUNTS.values()), dtype=torch.float)
    draw = torch.multinomial(weights, num_graphs, replacement=True, generator=generator)
    return sizes[draw].tolist()


def make_inputs(
    sizes: list[int], channels: int, dtype: torch.dtype, device: str, seed: int = 0
) -> tuple[list[Tensor], Tensor, Tensor]:
    """q, k, v [N, C], pair_att, pair_val [P, C] (requiring grad), ptr and an upstream dy."""
    gen = torch.Generator(device=device).manual_seed(seed)
    num_nodes, num_pairs = sum(sizes), sum(n * n for n in sizes)

    def randn(rows: int) -> Tensor:
        return torch.randn(rows, channels, generator=gen, device=device).to(dtype)

    tensors = [randn(num_nodes) for _ in range(3)] + [randn(num_pairs) for _ in range(2)]
    ptr = torch.tensor([0, *torch.tensor(sizes, dtype=torch.long).cumsum(0).tolist()])
    dy = randn(num_nodes)
    return [t.requires_grad_() for t in tensors], ptr.to(device), dy


@contextmanager
def poisoned_buffers():
    """Every buffer the kernels allocate starts as NaN (True for bool masks)."""
    original = _buffers.empty

    def poisoned(shape, dtype, device):
        return torch.full(
            shape, True if dtype == torch.bool else math.nan, dtype=dtype, device=device
        )

    _buffers.empty = poisoned
    try:
        yield
    finally:
        _buffers.empty = original


def rel_err(actual: Tensor, expected: Tensor) -> float:
    actual, expected = actual.double(), expected.double()
    return ((actual - expected).norm() / expected.norm().clamp_min(1e-30)).item()


def no_grad_call(fn: Callable[[], Tensor]) -> Tensor:
    with torch.no_grad():
        return fn()


def forward_backward(fn: Callable, inputs: list[Tensor], dy: Tensor, *args, **kwargs):
    y = fn(*inputs, *args, **kwargs)
    return (y, *torch.autograd.grad(y, inputs, dy))


# ----------------------------------------------------------------------------------
# Correctness check
# ----------------------------------------------------------------------------------


@dataclass
class CheckCase:
    name: str
    sizes: list[int]
    channels: int
    heads: int
    dropout_p: float = 0.0
    options: dict = field(default_factory=dict)
    dtypes: tuple[str, ...] | None = None  # checked in these dtypes only (None: all asked)


#: The other tile the check compiles: 32x8 with 2 heads per program and 8 warps compiles
#: for sm_90 without spills (compile_check.py: at most 173 registers). The former 32x16
#: tile with 8 heads per program spilled and took ~60 s to compile over three dtypes.
TILE_32X8 = dict(block_m=32, block_n=8, heads_per_program=2, num_warps=8)


def check_cases(tiny: bool, generator: torch.Generator) -> list[CheckCase]:
    """The correctness cases: the default tile in every dtype asked for (with and without
    dropout), then one other tile, a padded head dimension and empty graphs in fp32 only:
    each new (tile, head shape, dropout, dtype) is a compilation of 2-3 kernels, and the
    whole GPU session must fit one call (see SESSION_STEPS)."""
    if tiny:
        return [
            CheckCase("tiny", [0, 1, 2, 17, 0, 37], 8, 2, options=dict(block_m=16, block_n=8)),
            CheckCase("tiny dropout", [3, 20], 8, 2, 0.5, dict(block_n=8)),
            CheckCase("tiny 3 heads", [9, 1, 12], 12, 3, options=dict(block_m=8, block_n=8)),
        ]
    mixed = [1, 2, 17, 37, 70, 5, 128, 300]
    zinc = zinc_sizes(128, generator)
    return [
        CheckCase("mixed", mixed, 64, 8),
        CheckCase("mixed dropout", mixed, 64, 8, 0.5),
        CheckCase("zinc-128", zinc, 64, 8),
        CheckCase("zinc-128 dropout", zinc, 64, 8, 0.5),
        CheckCase("empty graphs", [0, 3, 0, 40, 0, 1, 0], 64, 8, 0.5, dtypes=("fp32",)),
        CheckCase("C=36 H=6 (d=6)", [3, 40, 1, 90], 36, 6, 0.3, dtypes=("fp32",)),
        CheckCase("32x8 tile, 2 heads", mixed, 64, 8, 0.5, TILE_32X8, dtypes=("fp32",)),
    ]


def check_case(case: CheckCase, dtype: torch.dtype, device: str) -> bool:
    dtype = executable(dtype)
    inputs, ptr, dy = make_inputs(dry_sizes(case.sizes), case.channels, dtype, device)
    seed = 1234
    kwargs = dict(dropout_p=case.dropout_p, seed=seed, **case.options)
    with poisoned_buffers():
        ours = forward_backward(kernels.chromatic_attention, inputs, dy, ptr, case.heads, **kwargs)
    again = forward_backward(kernels.chromatic_attention, inputs, dy, ptr, case.heads, **kwargs)
    repeatable = all(torch.equal(a, b) for a, b in zip(ours, again, strict=True))
    wide = [t.detach().float().requires_grad_() for t in inputs]
    mask = dropout_mask_or_none(ptr, case.dropout_p, seed)
    expected = forward_backward(
        reference, wide, dy.float(), ptr, case.heads, case.dropout_p, dropout_mask=mask
    )
    errors = [rel_err(a, b) for a, b in zip(ours, expected, strict=True)]
    ok = repeatable and all(e <= TOLERANCE[dtype] for e in errors)
    ok = ok and all(a.dtype == dtype for a in ours)
    dtype_name = str(dtype).removeprefix("torch.")
    worst = max(zip(errors, NAMES, strict=True))
    print(
        f"{'PASS' if ok else 'FAIL'}  {case.name:<22} {dtype_name:<9} "
        f"N={sum(case.sizes):<6} worst rel. err {worst[0]:.1e} ({worst[1]}), "
        f"tolerance {TOLERANCE[dtype]:.0e}, bitwise repeatable: {repeatable}"
    )
    if not ok:
        print("      " + ", ".join(f"{n} {e:.2e}" for n, e in zip(NAMES, errors, strict=True)))
    return ok


def dropout_mask_or_none(ptr: Tensor, p: float, seed: int) -> Tensor | None:
    return kernels.dropout_mask(ptr, p, seed) if p > 0.0 else None


def check_int64_offsets(
    device: str, big: int = 5800, small: int = 20, dtype: torch.dtype = torch.bfloat16
) -> bool:
    """A graph whose pairs span more than 2³¹ elements (at the default ``big``), then a
    small graph after it: the small graph against the reference run on it alone, and
    the big graph's last rows against a direct computation."""
    channels, heads = 64, 8
    inputs, ptr, dy = make_inputs([big, small], channels, dtype, device, seed=5)
    with poisoned_buffers():
        ours = forward_backward(kernels.chromatic_attention, inputs, dy, ptr, heads)
    # The small graph alone, through the reference: its rows and pairs sit past 2³¹.
    tail = [t[big:] if t.shape[0] == big + small else t[big * big :] for t in inputs]
    tail = [t.detach().float().requires_grad_() for t in tail]
    expected = forward_backward(
        reference, tail, dy[big:].float(), torch.tensor([0, small], device=device), heads
    )
    ours_tail = [t[big:] if t.shape[0] == big + small else t[big * big :] for t in ours]
    errors = [rel_err(a, b) for a, b in zip(ours_tail, expected, strict=True)]
    # Last rows of the big graph, whose pair offsets are also past 2³¹ elements.
    rows = torch.arange(big - 3, big, device=device)
    pairs = rows[:, None] * big + torch.arange(big, device=device)
    q, k, v = (t.detach()[:big].float() for t in inputs[:3])
    att, val = (t.detach()[pairs].float() for t in inputs[3:])  # [3, big, C]
    d = channels // heads
    score = (q[rows].view(3, 1, heads, d) * k.view(1, big, heads, d)).sum(-1) / d**0.5
    logits = score.repeat_interleave(d, -1) + att
    y_rows = (logits.softmax(1) * (v[None] + val)).sum(1)
    errors.append(rel_err(ours[0][rows], y_rows))
    finite = all(torch.isfinite(t).all().item() for t in ours)
    ok = finite and all(e <= TOLERANCE[dtype] for e in errors)
    dtype_name = str(dtype).removeprefix("torch.")
    elements = (big * big + small * small) * channels
    print(
        f"{'PASS' if ok else 'FAIL'}  int64 offsets          {dtype_name:<9} "
        f"n={big}+{small}, P·C = {elements:.3g} {'>' if elements > 2**31 else '<'} 2^31: "
        f"worst rel. err {max(errors):.1e}, all finite: {finite}"
    )
    return ok


#: The cases of ``--check --quick`` (under compute-sanitizer, which is slow): the default
#: tile with and without dropout, and empty graphs (no programs for them, nothing written).
QUICK_CASES = ("mixed", "mixed dropout", "empty graphs")


def run_check(device: str, tiny: bool, dtypes: list[str], quick: bool = False) -> bool:
    generator = torch.Generator().manual_seed(0)
    print(
        f"# correctness on {device_name(device)}: kernel vs fp32 reference, outputs "
        "poisoned with NaN before each launch"
    )
    ok = True
    for case in check_cases(tiny, generator):
        if quick and case.name not in QUICK_CASES:
            continue
        for dtype in dtypes:
            if case.dtypes is None or dtype in case.dtypes:
                with declared_dtype(dtype):
                    ok &= check_case(case, DTYPES[dtype], device)
    if not (tiny or quick):
        with declared_dtype("bf16"):
            if DRY_RUN.active:
                ok &= check_int64_offsets(device, big=20, small=3, dtype=torch.float16)
            else:
                ok &= check_int64_offsets(device)
    print("# check", "PASSED" if ok else "FAILED")
    return ok


# ----------------------------------------------------------------------------------
# Benchmark
# ----------------------------------------------------------------------------------


def device_name(device: str) -> str:
    if device == "cuda":
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    return "CPU (Triton interpreter)"


def bench_cases(tiny: bool, generator: torch.Generator) -> dict[str, list[int]]:
    if tiny:
        return {"zinc-1": zinc_sizes(1, generator)}
    return {
        "zinc-32": zinc_sizes(32, generator),
        "zinc-128": zinc_sizes(128, generator),
        "zinc-1024": zinc_sizes(1024, generator),
        "n128": [128] * 64,
        "n512": [512] * 8,
    }


def median_ms(fn: Callable[[], object], device: str) -> float:
    DRY_RUN.timed += 1
    if device == "cuda":
        import triton.testing

        return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")
    times = []  # CPU (interpreter): one run, the number only shows the code path works
    for _ in range(1):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def peak_bytes(fn: Callable[[], object], device: str) -> float:
    """Peak memory allocated while ``fn`` runs, above what was allocated before."""
    if device != "cuda":
        return math.nan
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def saved_bytes(fn: Callable[[], Tensor], inputs: list[Tensor]) -> int:
    """Bytes of the tensors autograd keeps for the backward, the inputs' storage excluded."""
    excluded = {t.untyped_storage().data_ptr() for t in inputs}
    seen: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in excluded:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        y = fn()
    del y
    return sum(seen.values())


def copy_bandwidth(device: str) -> float:
    """Bytes per second of a device-to-device copy (read + write) of 1 GiB."""
    if device != "cuda":
        return math.nan
    src = torch.empty(2**28, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src), device)
    return 2 * src.nbytes / (ms * 1e-3)


def kernel_bytes(sizes: list[int], channels: int, dtype: torch.dtype) -> tuple[int, int]:
    """Bytes the kernel must move: (forward, backward), each input read once."""
    item = torch.empty((), dtype=dtype).element_size()
    nodes, pairs = sum(sizes) * channels, sum(n * n for n in sizes) * channels
    forward = (3 * nodes + 2 * pairs + nodes) * item + 4 * nodes  # q k v E_att E_val -> y, lse
    backward = (5 * nodes + 2 * pairs + 3 * nodes + 2 * pairs) * item + 4 * nodes
    return forward, backward


@dataclass
class Impl:
    name: str
    fn: Callable
    kwargs: dict


def run_bench(
    device: str,
    tiny: bool,
    dtypes: list[str],
    cases: list[str] | None,
    compile_backend: str | Callable | None,
    only_compiled: bool = False,
) -> None:
    """The benchmark table; ``only_compiled``: the torch.compile rows alone (the session's
    last step, so that its compilation time cannot take the table with it)."""
    channels, heads = (8, 2) if tiny else (64, 8)
    generator = torch.Generator().manual_seed(0)
    all_cases = bench_cases(tiny, generator)
    copy = copy_bandwidth(device)
    print(
        f"# benchmark on {device_name(device)}, C={channels}, {heads} heads; "
        f"device-to-device copy: {copy / 1e9:.0f} GB/s"
    )
    print(
        "# time: median ms (compilation excluded); peak: MB above the inputs; saved: MB kept "
        "for the backward (inputs excluded); GB/s and % copy: kernel bytes that must move / time"
    )
    header = (
        f"{'case':<10} {'dtype':<5} {'impl':<16} {'N':>6} {'P':>9} {'fwd ms':>8} "
        f"{'f+b ms':>8} {'fwd peak':>9} {'f+b peak':>9} {'saved':>8} {'GB/s f':>7} "
        f"{'GB/s f+b':>8} {'% copy':>7}"
    )
    print(header)
    compiled = None
    backend_name = getattr(compile_backend, "__name__", type(compile_backend).__name__)
    backend_name = compile_backend if isinstance(compile_backend, str) else backend_name
    if compile_backend is not None:
        # One compiled reference serves every case, dtype and grad mode: let dynamo keep
        # them all instead of falling back to eager after its default 8 recompilations.
        for name in ("cache_size_limit", "recompile_limit"):
            if hasattr(torch._dynamo.config, name):
                setattr(torch._dynamo.config, name, 64)
        compiled = torch.compile(reference, backend=compile_backend)
    for case in cases or list(all_cases):
        sizes = dry_sizes(all_cases[case])
        for dtype_name in dtypes:
            dtype = executable(DTYPES[dtype_name])
            inputs, ptr, dy = make_inputs(sizes, channels, dtype, device)
            impls = [] if only_compiled else [
                Impl("kernel", kernels.chromatic_attention, {}),
                Impl("kernel p=0.5", kernels.chromatic_attention, dict(dropout_p=0.5)),
                Impl("eager", reference, {}),
            ]  # fmt: skip
            if compiled is not None:
                impls.append(Impl(f"compiled ({backend_name})", compiled, {}))
            fwd_bytes, bwd_bytes = kernel_bytes(sizes, channels, dtype)
            results = {}
            for impl in impls:
                DRY_RUN.declared = dtype_name
                call = partial(impl.fn, *inputs, ptr, heads, **impl.kwargs)
                fwd = partial(no_grad_call, call)
                fwd_bwd = partial(forward_backward, impl.fn, inputs, dy, ptr, heads, **impl.kwargs)
                fwd_bwd()  # warm-up (compilation)
                row = dict(
                    fwd=median_ms(fwd, device),
                    fb=median_ms(fwd_bwd, device),
                    fwd_peak=peak_bytes(fwd, device),
                    fb_peak=peak_bytes(fwd_bwd, device),
                    saved=saved_bytes(call, inputs),
                )
                results[impl.name] = row
                is_kernel = impl.fn is kernels.chromatic_attention
                bandwidth = "-".rjust(7) + "-".rjust(9) + "-".rjust(8)
                if is_kernel:
                    gbs_f = fwd_bytes / (row["fwd"] * 1e6)
                    gbs_fb = (fwd_bytes + bwd_bytes) / (row["fb"] * 1e6)
                    bandwidth = f"{gbs_f:>7.0f} {gbs_fb:>8.0f} {100 * gbs_fb * 1e9 / copy:>6.0f}%"
                print(
                    f"{case:<10} {dtype_name:<5} {impl.name:<16} {sum(sizes):>6} "
                    f"{sum(n * n for n in sizes):>9} {row['fwd']:>8.3f} {row['fb']:>8.3f} "
                    f"{row['fwd_peak'] / 1e6:>9.1f} {row['fb_peak'] / 1e6:>9.1f} "
                    f"{row['saved'] / 1e6:>8.2f} {bandwidth}"
                )
            if only_compiled:
                continue
            ours, eager = results["kernel"], results["eager"]
            saved = ours["saved"] / max(eager["saved"], 1)
            summary = (
                f"  -> f+b speed-up vs eager {eager['fb'] / ours['fb']:.1f}x; saved "
                f"for backward {saved:.3f} of eager's"
            )
            if compiled is not None:
                other = results[f"compiled ({backend_name})"]
                summary += f"; f+b speed-up vs compiled {other['fb'] / ours['fb']:.1f}x"
            print(summary)


def run_sweep(device: str, dtypes: list[str]) -> None:
    """Forward and forward+backward time of a few tile shapes (GPU)."""
    configs = [
        (16, 8, 2, 4),
        (8, 8, 2, 4),
        (8, 16, 2, 4),
        (16, 8, 1, 4),
        (32, 8, 1, 4),
        (16, 8, 4, 8),
        (16, 16, 2, 8),
        (32, 8, 2, 8),
        (16, 8, 8, 8),
    ]
    generator = torch.Generator().manual_seed(0)
    cases = {"zinc-128": zinc_sizes(128, generator), "n512": [512] * 8}
    print(
        f"# tile sweep on {device_name(device)}, C=64, 8 heads (block_m, block_n, "
        "heads_per_program, num_warps)"
    )
    print(f"{'case':<9} {'dtype':<5} {'tile':<16} {'fwd ms':>8} {'f+b ms':>8}")
    for case, sizes in cases.items():
        for dtype_name in dtypes:
            DRY_RUN.declared = dtype_name
            dtype = executable(DTYPES[dtype_name])
            inputs, ptr, dy = make_inputs(dry_sizes(sizes), 64, dtype, device)
            for block_m, block_n, hpp, warps in configs:
                options = dict(
                    block_m=block_m, block_n=block_n, heads_per_program=hpp, num_warps=warps
                )
                fn = kernels.chromatic_attention
                fwd = partial(no_grad_call, partial(fn, *inputs, ptr, 8, **options))
                fwd_bwd = partial(forward_backward, fn, inputs, dy, ptr, 8, **options)
                tile = f"{block_m}x{block_n} h{hpp} w{warps}"
                print(
                    f"{case:<9} {dtype_name:<5} {tile:<16} {median_ms(fwd, device):>8.3f} "
                    f"{median_ms(fwd_bwd, device):>8.3f}"
                )


def run_saved(device: str, dtypes: list[str], cases: list[str] | None) -> None:
    """Bytes kept for the backward, kernel vs eager reference (any device)."""
    all_cases = bench_cases(False, torch.Generator().manual_seed(0))
    print(
        f"# bytes saved for the backward (inputs excluded) on {device_name(device)}, C=64, 8 heads"
    )
    print(
        f"{'case':<10} {'dtype':<5} {'N':>6} {'P':>9} {'kernel MB':>10} {'eager MB':>10} "
        f"{'ratio':>7}"
    )
    for case in cases or list(all_cases):
        sizes = all_cases[case]
        for dtype_name in dtypes:
            inputs, ptr, _ = make_inputs(sizes, 64, DTYPES[dtype_name], device)
            ours = saved_bytes(partial(kernels.chromatic_attention, *inputs, ptr, 8), inputs)
            eager = saved_bytes(partial(reference, *inputs, ptr, 8), inputs)
            print(
                f"{case:<10} {dtype_name:<5} {sum(sizes):>6} {sum(n * n for n in sizes):>9} "
                f"{ours / 1e6:>10.2f} {eager / 1e6:>10.1f} {ours / eager:>7.4f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="GPU correctness check only")
    mode.add_argument("--tiny", action="store_true", help="check + table at tiny sizes (CPU)")
    mode.add_argument("--sweep", action="store_true", help="time a few tile shapes")
    mode.add_argument("--saved", action="store_true", help="bytes kept for backward (any device)")
    parser.add_argument("--quick", action="store_true", help="--check: 3 cases, no int64 case")
    parser.add_argument("--cases", nargs="+", help="benchmark cases (default: all)")
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES), help="default: fp32 bf16")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile rows")
    parser.add_argument(
        "--compiled-only", action="store_true", help="only the torch.compile rows of the table"
    )
    mode.add_argument(
        "--session-steps",
        action="store_true",
        help="print the GPU session's steps (name, limit s, tool, arguments), one a line",
    )
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="run every session step here (TRITON_INTERPRET=1, tiny sizes) and print its "
        "projected GPU time from what it compiles and times",
    )
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # rows appear as they are measured

    if args.session_steps:
        for step in SESSION_STEPS:
            print(step.name, step.limit_s, step.tool, *step.argv)
        return 0
    if args.dry_run:
        if os.environ.get("TRITON_INTERPRET") != "1":
            parser.error("--dry-run runs the kernels through the interpreter: TRITON_INTERPRET=1")
        return dry_run(main)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if DRY_RUN.active:
        device = "cpu"
    if args.tiny:
        # The interpreter has no bf16; "eager" compiles nothing but runs torch.compile's path.
        dtypes = args.dtypes or ["fp32", "fp16"]
        ok = run_check(device, tiny=True, dtypes=dtypes)
        run_bench(device, True, ["fp32"], None, None if args.no_compile else "eager")
        return 0 if ok else 1
    if args.saved:
        run_saved(device, args.dtypes or ["fp32"], args.cases)
        return 0
    if device != "cuda" and not DRY_RUN.active:
        parser.error("needs a CUDA GPU (use --tiny under TRITON_INTERPRET=1 on CPU)")
    if args.check:
        dtypes = args.dtypes or ["fp32", "bf16", "fp16"]
        return 0 if run_check(device, False, dtypes, quick=args.quick) else 1
    dtypes = args.dtypes or ["fp32", "bf16"]
    if args.sweep:
        run_sweep(device, dtypes)
        return 0
    backend = DRY_RUN.backend if DRY_RUN.active else "inductor"
    run_bench(
        device, False, dtypes, args.cases, None if args.no_compile else backend, args.compiled_only
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
