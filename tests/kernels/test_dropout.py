import pytest
import torch

from cgt.kernels import dropout_mask


def ptr_of(sizes):
    return torch.tensor([0, *torch.tensor(sizes, dtype=torch.long).cumsum(0).tolist()])


def test_mask_has_one_draw_per_pair_at_the_right_rate(poisoned):
    keep = dropout_mask(ptr_of([30, 1, 50]), 0.9, seed=3)  # buffer poisoned with True
    assert keep.dtype == torch.bool and keep.shape == (900 + 1 + 2500,)
    assert abs(keep.float().mean().item() - 0.1) < 0.02
    assert dropout_mask(ptr_of([30, 1, 50]), 0.0, seed=3).all()


def test_mask_is_a_function_of_seed_and_global_pair_index():
    long = dropout_mask(ptr_of([40, 7]), 0.5, seed=11)
    assert torch.equal(long, dropout_mask(ptr_of([40, 7]), 0.5, seed=11))
    # Pair p gets the same draw whatever graphs the batch holds.
    assert torch.equal(long[:1609], dropout_mask(ptr_of([3, 40]), 0.5, seed=11))
    assert (long != dropout_mask(ptr_of([40, 7]), 0.5, seed=12)).float().mean() > 0.3
    big_seed = dropout_mask(ptr_of([40, 7]), 0.5, seed=2**40 + 11)
    assert (long != big_seed).float().mean() > 0.3


def test_bad_arguments():
    with pytest.raises(ValueError, match="p must be in"):
        dropout_mask(ptr_of([2]), 1.0, seed=0)
    with pytest.raises(ValueError, match="seed must be in"):
        dropout_mask(ptr_of([2]), 0.5, seed=-1)
