import importlib

import pytest
import torch

_buffers = importlib.import_module("cgt.kernels._buffers")


@pytest.fixture
def poisoned(monkeypatch):
    """Every buffer a kernel writes starts as NaN (floats) or True (bools).

    Yields the list of allocated buffers, so a test can also check that allocation
    went through the hook.
    """
    allocated = []

    def poisoned_empty(shape, dtype, device):
        fill = True if dtype == torch.bool else float("nan")
        buffer = torch.full(shape, fill, dtype=dtype, device=device)
        allocated.append(buffer)
        return buffer

    monkeypatch.setattr(_buffers, "empty", poisoned_empty)
    return allocated
