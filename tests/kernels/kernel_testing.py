"""Inputs and error measure shared by the kernel tests."""

import torch


def packed_inputs(sizes, channels, dtype=torch.float32, seed=0):
    """Random q, k, v [N, C], pair_att, pair_val [P, C] (requiring grad) and ptr."""
    gen = torch.Generator().manual_seed(seed)
    num_nodes, num_pairs = sum(sizes), sum(n * n for n in sizes)
    tensors = [torch.randn(num_nodes, channels, generator=gen) for _ in range(3)]
    tensors += [torch.randn(num_pairs, channels, generator=gen) for _ in range(2)]
    ptr = torch.tensor([0, *torch.tensor(sizes, dtype=torch.long).cumsum(0).tolist()])
    return [t.to(dtype).requires_grad_() for t in tensors], ptr


def rel_err(actual, expected):
    """Norm-wise relative error, in float64."""
    actual, expected = actual.double(), expected.double()
    return ((actual - expected).norm() / expected.norm().clamp_min(1e-30)).item()
