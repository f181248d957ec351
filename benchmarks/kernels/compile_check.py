"""Compiles the kernels of :mod:`cgt.kernels` for a CUDA GPU without one.

Triton compiles ahead of time with its bundled ``ptxas``, so this catches what the
interpreter cannot (code generation errors, bf16 lowering) and reports registers
and spills per kernel, which is how the default tile shapes were chosen. From the
repository root (cgt need not be installed)::

    PYTHONPATH=. python benchmarks/kernels/compile_check.py --arch 90 --channels 64 --heads 8

Run it without ``TRITON_INTERPRET=1`` (under the interpreter the kernels are not
compiled). Exits non-zero when a kernel does not compile.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
from pathlib import Path

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

_TRITON_TYPES = {"fp32": "fp32", "fp16": "fp16", "bf16": "bf16"}
_INDEX_TYPES = {
    "PTR": "i64",
    "PAIR_PTR": "i64",
    "PART_PTR": "i64",
    "BLOCK_GRAPH": "i32",
    "BLOCK_START": "i32",
}
_SCALARS = {
    "seed": "i64",
    "num_pairs": "i64",
    "p_drop": "fp32",
    "keep_scale": "fp32",
    "sm_scale": "fp32",
}


def _signature(fn, dtype: str, constexprs: dict) -> dict[str, str]:
    signature = {}
    for name in fn.arg_names:
        if name in constexprs:
            signature[name] = "constexpr"
        elif name in _SCALARS:
            signature[name] = _SCALARS[name]
        elif name in _INDEX_TYPES:
            signature[name] = "*" + _INDEX_TYPES[name]
        elif name in ("LSE", "DQ_PART"):
            signature[name] = "*fp32"
        elif name == "KEEP":
            signature[name] = "*i1"
        else:
            signature[name] = "*" + _TRITON_TYPES[dtype]
    return signature


def _resource_usage(cubin: bytes) -> tuple[int, int]:
    """(registers, stack bytes) of a cubin, from the cuobjdump Triton ships."""
    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
        file.write(cubin)
        file.flush()
        out = subprocess.run(
            [str(tool), "--dump-resource-usage", file.name], capture_output=True, text=True
        ).stdout
    match = re.search(r"REG:(\d+) STACK:(\d+)", out)
    if match is None:
        raise RuntimeError(f"no resource usage in cuobjdump's output:\n{out}")
    return int(match.group(1)), int(match.group(2))


def compile_kernel(fn, dtype: str, constexprs: dict, arch: int, num_warps: int) -> tuple[int, int]:
    """Compiles one kernel for ``sm_<arch>``; returns (registers, spilled stack bytes)."""
    signature = _signature(fn, dtype, constexprs)
    # Pointer arguments 16-byte aligned, as Triton assumes when it launches on tensors.
    attrs = {
        (fn.arg_names.index(name),): [["tt.divisibility", 16]]
        for name, kind in signature.items()
        if kind.startswith("*")
    }
    source = ASTSource(fn=fn, signature=signature, constexprs=constexprs, attrs=attrs)
    kernel = triton.compile(
        source, target=GPUTarget("cuda", arch, 32), options={"num_warps": num_warps}
    )
    return _resource_usage(kernel.asm["cubin"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", type=int, default=90, help="compute capability, e.g. 90")
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=_TRITON_TYPES)
    parser.add_argument("--block-m", type=int, default=16)
    parser.add_argument("--block-n", type=int, default=8)
    parser.add_argument("--heads-per-program", type=int, default=None)
    parser.add_argument("--num-warps", type=int, default=4)
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        raise SystemExit(
            "compile_check needs TRITON_INTERPRET unset (the interpreter compiles nothing)"
        )

    from cgt.kernels import csa as attention
    from cgt.kernels import dropout

    blocks = attention._blocks(
        args.channels,
        args.heads,
        args.block_m,
        args.block_n,
        args.heads_per_program,
        args.num_warps,
    )
    shape = attention._constexprs(args.channels, args.heads, blocks)
    num_warps = shape.pop("num_warps")
    print(f"sm_{args.arch}, C={args.channels}, heads={args.heads}, {blocks}")
    print(f"{'kernel':<20} {'dtype':<5} {'dropout':<7} {'registers':>9} {'spill bytes':>11}")
    for dtype in args.dtypes:
        for fn, constexprs in (
            (attention._csa_fwd_kernel, dict(shape, DROPOUT=False)),
            (attention._csa_fwd_kernel, dict(shape, DROPOUT=True)),
            (attention._csa_bwd_kernel, dict(shape, DROPOUT=False)),
            (attention._csa_bwd_kernel, dict(shape, DROPOUT=True)),
            (attention._dq_reduce_kernel, shape),
            (dropout._dropout_mask_kernel, dict(BLOCK=1024)),
        ):
            registers, spills = compile_kernel(fn, dtype, constexprs, args.arch, num_warps)
            drop = str(constexprs.get("DROPOUT", "-"))
            print(f"{fn.__name__:<20} {dtype:<5} {drop:<7} {registers:>9} {spills:>11}")


if __name__ == "__main__":
    main()
