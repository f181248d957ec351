"""cgt.nn.sync_batchnorm: 2 gloo processes with unequal (and empty) shares of a batch
normalise, back-propagate and keep running statistics as one BatchNorm1d with the whole
batch; outside a process group and in eval mode the layer is BatchNorm1d."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from cgt.model import CGT
from cgt.nn.sync_batchnorm import SyncBatchNorm, to_batchnorm, to_sync_batchnorm

CHANNELS = 3
#: float64 throughout: the two computations differ by summation order only.
TOLERANCE = 1e-12
#: (rows of process 0, rows of process 1, trailing length or None for [M, C], momentum)
CASES = [(5, 3, None, 0.1), (6, 0, None, None), (2, 4, 2, 0.3)]


def _layers(momentum: float | None) -> tuple[nn.BatchNorm1d, SyncBatchNorm]:
    """The reference and the synchronised layer, with the same non-trivial affine."""
    reference = nn.BatchNorm1d(CHANNELS, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor([1.5, -0.5, 2.0]))
        reference.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    synced = SyncBatchNorm(CHANNELS, momentum=momentum, dtype=torch.float64)
    synced.load_state_dict(reference.state_dict())
    return reference, synced


def _check_case(rank: int, rows: tuple[int, int], length: int | None, momentum: float | None):
    """Three training steps, then eval; every process asserts on its own share."""
    reference, synced = _layers(momentum)
    start = rank * rows[0]
    for step in range(3):
        generator = torch.Generator().manual_seed(step)
        shape = (sum(rows), CHANNELS) + ((length,) if length else ())
        x = 3.0 + 2.0 * torch.randn(shape, generator=generator, dtype=torch.float64)
        weights = torch.randn(shape, generator=generator, dtype=torch.float64)
        whole = x.clone().requires_grad_()
        expected = reference(whole)
        (expected.sin() * weights).sum().backward()  # the sum of both processes' losses

        mine = x[start : start + rows[rank]].clone().requires_grad_()
        out = synced(mine)
        (out.sin() * weights[start : start + rows[rank]]).sum().backward()

        torch.testing.assert_close(out, expected[start : start + rows[rank]], atol=TOLERANCE,
                                   rtol=TOLERANCE)  # fmt: skip
        torch.testing.assert_close(mine.grad, whole.grad[start : start + rows[rank]],
                                   atol=TOLERANCE, rtol=TOLERANCE)  # fmt: skip
        for name in ("weight", "bias"):  # averaged over the processes as DDP does
            grad = getattr(synced, name).grad.clone()
            dist.all_reduce(grad)
            torch.testing.assert_close(grad / 2, getattr(reference, name).grad / 2,
                                       atol=TOLERANCE, rtol=TOLERANCE)  # fmt: skip
        for module in (reference, synced):
            module.zero_grad()
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            torch.testing.assert_close(getattr(synced, name), getattr(reference, name),
                                       atol=TOLERANCE, rtol=TOLERANCE)  # fmt: skip
    synced.eval(), reference.eval()  # running statistics, no collective
    x = torch.randn((4, CHANNELS) + ((length,) if length else ()), dtype=torch.float64)
    torch.testing.assert_close(synced(x), reference(x), atol=TOLERANCE, rtol=TOLERANCE)


def _worker(rank: int, store: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        for rows0, rows1, length, momentum in CASES:
            _check_case(rank, (rows0, rows1), length, momentum)
        # One value per channel over both processes is refused on both, as by BatchNorm1d.
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            SyncBatchNorm(CHANNELS)(torch.randn(1 - rank, CHANNELS))
    finally:
        dist.destroy_process_group()


def test_two_processes_equal_one_batchnorm_over_the_whole_batch(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "store"),), nprocs=2, join=True)


def test_without_a_process_group_it_is_batchnorm1d():
    torch.manual_seed(0)
    plain = nn.BatchNorm1d(4)
    synced = SyncBatchNorm(4)
    synced.load_state_dict(plain.state_dict())
    x = torch.randn(7, 4)
    torch.testing.assert_close(synced(x), plain(x), atol=0, rtol=0)
    torch.testing.assert_close(synced.running_var, plain.running_var, atol=0, rtol=0)


def test_conversion_keeps_parameters_buffers_and_state_dict_names():
    model = CGT(channels=8, layers=1, heads=2, steps=4)
    before = model.state_dict()
    parameters = [id(p) for p in model.parameters()]
    norms = sum(isinstance(m, nn.BatchNorm1d) for m in model.modules())
    assert norms >= 3  # the two of the layer and the random-walk encoder's

    synced = to_sync_batchnorm(model.eval())
    assert synced is model
    assert sum(isinstance(m, SyncBatchNorm) for m in model.modules()) == norms
    assert all(not m.training for m in model.modules())
    assert [id(p) for p in model.parameters()] == parameters  # the optimizer's still hold
    assert model.state_dict().keys() == before.keys()

    plain = to_batchnorm(model)
    assert not any(isinstance(m, SyncBatchNorm) for m in plain.modules())
    assert sum(type(m) is nn.BatchNorm1d for m in plain.modules()) == norms
    for key, value in plain.state_dict().items():
        assert value is before[key] or torch.equal(value, before[key]), key
    lone = to_sync_batchnorm(nn.BatchNorm1d(2))
    assert type(lone) is SyncBatchNorm and type(to_batchnorm(lone)) is nn.BatchNorm1d
