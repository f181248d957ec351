"""A fresh dropout seed per call must not recompile the kernels.

Triton compiles one kernel per cache key, and the key specialises integer arguments
equal to 1 or divisible by 16 unless the kernel marks them ``do_not_specialize``. The
key is computed here as Triton 3.7's ``JITFunction.run`` does (its argument binder, then
``compute_cache_key``), on the real ``@triton.jit`` functions: a subprocess, since under
``TRITON_INTERPRET=1`` they are interpreter objects that compile nothing.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KEYS = """
import json, torch
from triton.backends.compiler import BaseBackend
from triton.runtime.jit import JITFunction, compute_cache_key, create_function_from_signature
from cgt.kernels import csa, dropout

def key(kernel, **args):
    binder = create_function_from_signature(kernel.signature, kernel.params, BaseBackend)
    _, specialization, options = binder(**args)
    return compute_cache_key({}, specialization, options)

pointer = torch.empty(64)
blocks = csa._blocks(8, 2, 16, 8, None, 4)
shape = dict(csa._constexprs(8, 2, blocks), DROPOUT=True)
del shape["num_warps"]
floats = dict(p_drop=0.5, keep_scale=2.0, sm_scale=0.25)
kernels = {
    "_csa_fwd_kernel": (csa._csa_fwd_kernel, "seed", {**floats, **shape}),
    "_csa_bwd_kernel": (csa._csa_bwd_kernel, "seed", {**floats, **shape}),
    "_dropout_mask_kernel (seed)": (
        dropout._dropout_mask_kernel, "seed", dict(num_pairs=100, p_drop=0.5, BLOCK=1024)
    ),
    "_dropout_mask_kernel (num_pairs)": (
        dropout._dropout_mask_kernel, "num_pairs", dict(seed=7, p_drop=0.5, BLOCK=1024)
    ),
}
keys = {}
for name, (kernel, varied, fixed) in kernels.items():
    args = {n: pointer for n in kernel.arg_names if n not in fixed and n != varied}
    # The same kernel without do_not_specialize: shows that the key can tell the values apart.
    plain = JITFunction(kernel.fn)
    keys[name] = {
        label: [key(fn, **args, **fixed, **{varied: value}) for value in (1, 3, 16, 17)]
        for label, fn in (("kernel", kernel), ("specialised", plain))
    }
print(json.dumps(keys))
"""


def test_seed_and_num_pairs_are_not_specialised():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run(
        [sys.executable, "-c", KEYS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    keys = json.loads(result.stdout)
    assert len(keys) == 4
    for name, by_kernel in keys.items():
        one, three, sixteen, seventeen = by_kernel["kernel"]
        assert one == three == sixteen == seventeen, f"{name} recompiles for some values"
        one, three, sixteen, seventeen = by_kernel["specialised"]
        assert len({one, three, sixteen, seventeen}) == 3, name  # 1, 16 and the rest
