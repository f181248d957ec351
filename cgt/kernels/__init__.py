"""Fused Triton kernels of cgt.

- :func:`chromatic_attention`: Chromatic Self-Attention (docs/design.md §2) on packed graphs,
  forward and backward, with attention dropout; same meaning as the PyTorch
  reference :func:`cgt.nn.functional.chromatic_attention`.
- :func:`dropout_mask`: the dropout mask the kernel uses for a seed, to feed the
  reference the same mask.

Needs CUDA tensors, or ``TRITON_INTERPRET=1`` set before this package is imported
to run the kernels on CPU through Triton's interpreter (slow; for tests).
See ``benchmarks/kernels/README.md`` in the source tree for the algorithm, limits and
benchmarks, and the GPU tools (correctness check, benchmark, sm_90 compile check) beside it.
"""

from cgt.kernels.csa import chromatic_attention
from cgt.kernels.dropout import dropout_mask

__all__ = ["chromatic_attention", "dropout_mask"]
