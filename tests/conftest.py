import os

import torch

# The Triton kernels (cgt.kernels) run through Triton's interpreter when there is no
# GPU; the variable must be set before any @triton.jit function is defined.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# The suite's tensors are tiny: one intra-op thread is faster for them, and it keeps
# OpenMP threads from spin-waiting for each other when the machine is busy.
torch.set_num_threads(1)
