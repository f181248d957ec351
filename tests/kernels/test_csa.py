import importlib

import pytest
import torch
from kernel_testing import packed_inputs, rel_err

from cgt.kernels import chromatic_attention, dropout_mask
from cgt.nn.functional import chromatic_attention as reference

# Small tiles keep the interpreter fast and put several query and key blocks in a graph.
CASES = [
    # sizes, channels, heads, kernel options
    ([1, 2, 17, 37, 70], 8, 2, dict(block_m=16, block_n=8)),
    ([3, 0, 20, 9], 12, 3, dict(block_m=8, block_n=8)),  # 3 heads in blocks of 2, empty graph
    ([5, 33], 6, 1, dict(block_m=8, block_n=16)),  # head size 6 padded to 8
    ([12, 1, 40], 16, 4, dict(block_m=16, block_n=16, heads_per_program=1)),
    ([2, 45], 32, 4, dict(block_m=32, block_n=16, heads_per_program=4)),
]

NAMES = ("y", "dq", "dk", "dv", "dpair_att", "dpair_val")


def run(fn, inputs, ptr, heads, dy, **kwargs):
    y = fn(*inputs, ptr, heads, **kwargs)
    return (y, *torch.autograd.grad(y, inputs, dy))


@pytest.mark.parametrize("sizes,channels,heads,options", CASES)
def test_forward_and_gradients_match_reference_fp32(poisoned, sizes, channels, heads, options):
    inputs, ptr = packed_inputs(sizes, channels)
    dy = torch.randn(sum(sizes), channels, generator=torch.Generator().manual_seed(1))
    ours = run(chromatic_attention, inputs, ptr, heads, dy, **options)
    expected = run(reference, inputs, ptr, heads, dy)
    assert len(poisoned) == 8  # y, lse; dq, dk, dv, dpair_att, dpair_val, dq partials
    for name, a, b in zip(NAMES, ours, expected, strict=True):
        assert a.dtype == torch.float32 and a.shape == b.shape
        assert not a.isnan().any(), f"{name} has unwritten (NaN) elements"
        assert rel_err(a, b) <= 1e-4, name


def test_fp16_inputs_match_fp32_reference(poisoned):
    inputs, ptr = packed_inputs([1, 17, 37], 8, dtype=torch.float16)
    dy = torch.randn(55, 8, generator=torch.Generator().manual_seed(1)).half()
    ours = run(chromatic_attention, inputs, ptr, 2, dy, block_m=16, block_n=8)
    wide = [t.detach().float().requires_grad_() for t in inputs]
    expected = run(reference, wide, ptr, 2, dy.float())
    for name, a, b in zip(NAMES, ours, expected, strict=True):
        assert a.dtype == torch.float16
        assert rel_err(a, b) <= 1e-2, name


def test_dropout_equals_reference_fed_the_same_mask(poisoned):
    sizes, p, seed = [2, 17, 37], 0.3, 1234
    inputs, ptr = packed_inputs(sizes, 8)
    dy = torch.randn(sum(sizes), 8, generator=torch.Generator().manual_seed(1))
    ours = run(chromatic_attention, inputs, ptr, 2, dy, dropout_p=p, seed=seed, block_n=8)
    keep = dropout_mask(ptr, p, seed)
    assert 0.6 < keep.float().mean() < 0.8
    expected = run(reference, inputs, ptr, 2, dy, dropout_p=p, dropout_mask=keep)
    for name, a, b in zip(NAMES, ours, expected, strict=True):
        assert rel_err(a, b) <= 1e-4, name
    # A different seed gives a different output.
    other = chromatic_attention(*inputs, ptr, 2, dropout_p=p, seed=seed + 1, block_n=8)
    assert rel_err(other, ours[0]) > 1e-2


def test_fully_dropped_rows_and_single_nodes_give_no_nan(poisoned):
    sizes, p = [1, 3, 2, 1], 0.9
    inputs, ptr = packed_inputs(sizes, 4)
    # A seed whose mask drops every pair of some row of the 3-node graph (rows 1..3).
    seed = next(s for s in range(1000) if (~dropout_mask(ptr, p, s)[1:10].view(3, 3)).all(1).any())
    keep = dropout_mask(ptr, p, seed)
    dy = torch.randn(sum(sizes), 4, generator=torch.Generator().manual_seed(1))
    ours = run(chromatic_attention, inputs, ptr, 2, dy, dropout_p=p, seed=seed)
    expected = run(reference, inputs, ptr, 2, dy, dropout_p=p, dropout_mask=keep)
    dropped_rows = 1 + torch.nonzero((~keep[1:10].view(3, 3)).all(1)).flatten()
    assert (ours[0][dropped_rows] == 0).all()
    for name, a, b in zip(NAMES, ours, expected, strict=True):
        assert torch.isfinite(a).all(), name
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("dropout_p", [0.0, 0.5])
def test_gradients_are_bitwise_repeatable(dropout_p):
    inputs, ptr = packed_inputs([5, 30], 8)
    dy = torch.randn(35, 8, generator=torch.Generator().manual_seed(1))
    first, second = (
        run(chromatic_attention, inputs, ptr, 2, dy, dropout_p=dropout_p, seed=7, block_n=8)
        for _ in range(2)
    )
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_seed_none_draws_from_torch_generator():
    inputs, ptr = packed_inputs([6, 9], 4)

    def seeded(seed):
        torch.manual_seed(seed)
        return chromatic_attention(*inputs, ptr, 2, dropout_p=0.5)

    assert torch.equal(seeded(0), seeded(0))
    assert not torch.equal(seeded(0), seeded(1))
    # The backward regenerates the forward's mask: gradients match the reference fed
    # the mask of the seed the forward drew.
    torch.manual_seed(3)
    seed = int(torch.randint(0, 2**31 - 1, (), dtype=torch.int64))
    torch.manual_seed(3)
    y = chromatic_attention(*inputs, ptr, 2, dropout_p=0.5)
    expected = reference(*inputs, ptr, 2, 0.5, dropout_mask(ptr, 0.5, seed))
    assert rel_err(y, expected) <= 1e-4
    grads = torch.autograd.grad(y.sum(), inputs)
    expected_grads = torch.autograd.grad(expected.sum(), inputs)
    for a, b in zip(grads, expected_grads, strict=True):
        assert rel_err(a, b) <= 1e-4


def test_custom_op_registration_and_torch_compile():
    inputs, ptr = packed_inputs([3, 4], 4)
    ops = importlib.import_module("cgt.kernels.csa")
    # Schema, fake (meta) implementation, autograd registration, AOT dispatch.
    torch.library.opcheck(ops._fwd_op, (*inputs, ptr, 2, 0.5, torch.tensor(3), 8, 8, 1, 4))

    def loss(*tensors):
        return (chromatic_attention(*tensors, ptr, 2) ** 2).sum()

    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)
    expected = torch.autograd.grad(loss(*inputs), inputs)
    actual = torch.autograd.grad(compiled(*inputs), inputs)
    for a, b in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, b)


def test_empty_batch():
    inputs, ptr = packed_inputs([], 8)
    y = chromatic_attention(*inputs, ptr, 2)
    assert y.shape == (0, 8)
    y.sum().backward()
    assert inputs[0].grad.shape == (0, 8)


def test_bad_inputs_get_clear_errors():
    inputs, ptr = packed_inputs([2, 3], 4)
    with pytest.raises(ValueError, match="pair_att and pair_val have 13 rows, expected 17"):
        chromatic_attention(*inputs, torch.tensor([0, 1, 5]), 2)
    with pytest.raises(ValueError, match=r"non-decreasing: ptr\[2\] < ptr\[1\]"):
        chromatic_attention(*inputs, torch.tensor([0, 4, 2, 5]), 2)
    with pytest.raises(ValueError, match="ptr must run from 0 to N = 5"):
        chromatic_attention(*inputs, torch.tensor([0, 2, 4]), 2)
    with pytest.raises(ValueError, match="divisible by heads"):
        chromatic_attention(*inputs, ptr, 3)
    with pytest.raises(ValueError, match="dropout_p"):
        chromatic_attention(*inputs, ptr, 2, dropout_p=1.0)
    with pytest.raises(TypeError, match="pair_val is torch.float64"):
        chromatic_attention(*inputs[:4], inputs[4].double(), ptr, 2)
    with pytest.raises(ValueError, match="block_n must be a power of two"):
        chromatic_attention(*inputs, ptr, 2, block_n=12)


def test_layers_sharing_ptr_build_the_block_tables_once(monkeypatch):
    module = importlib.import_module("cgt.kernels.csa")
    builds = []
    build = module._build_layout
    monkeypatch.setattr(module, "_build_layout", lambda *a: builds.append(1) or build(*a))
    inputs, ptr = packed_inputs([3, 4], 4)
    y = chromatic_attention(*inputs, ptr, 2)
    y = chromatic_attention(y, *inputs[1:], ptr, 2)  # a second layer, same batch
    y.sum().backward()
    assert len(builds) == 1
    ptr[1:] = torch.tensor([4, 7])  # modified in place: rebuilt (and validated)
    chromatic_attention(*inputs, ptr, 2)
    chromatic_attention(*inputs, ptr.clone(), 2)
    assert len(builds) == 3


def test_non_contiguous_inputs_and_int32_ptr():
    inputs, ptr = packed_inputs([4, 9], 8)
    wide = [torch.stack([t.detach()] * 2, dim=2).flatten(1)[:, ::2] for t in inputs]  # stride 2
    assert not any(t.is_contiguous() for t in wide)
    y = chromatic_attention(*wide, ptr.int(), 2)
    assert rel_err(y, reference(*inputs, ptr, 2)) <= 1e-4


def spread(tensor):
    """``tensor``'s values in a view with stride 2 along its last dimension."""
    return tensor.detach().repeat_interleave(2, dim=-1)[..., ::2]


def test_strided_ptr_gives_the_same_output_and_gradients(poisoned):
    sizes = [3, 3]
    inputs, ptr = packed_inputs(sizes, 4)
    # Each offset stored twice: read as contiguous memory, this ptr would say [0, 0, 3],
    # wrong graphs that still stay in bounds, so a kernel trusting ptr's strides fails
    # here instead of corrupting memory.
    strided = spread(ptr)
    assert strided.stride() == (2,) and torch.equal(strided, ptr)
    dy = torch.randn(sum(sizes), 4, generator=torch.Generator().manual_seed(1))
    ours = run(chromatic_attention, inputs, strided, 2, dy)
    expected = run(reference, inputs, ptr, 2, dy)
    for name, a, b in zip(NAMES, ours, expected, strict=True):
        assert rel_err(a, b) <= 1e-4, name


def test_custom_ops_called_directly_accept_strided_tensors(poisoned):
    sizes = [3, 3]
    inputs, ptr = packed_inputs(sizes, 4)
    dy = torch.randn(sum(sizes), 4, generator=torch.Generator().manual_seed(1))
    expected = run(reference, inputs, ptr, 2, dy)
    # heads, dropout_p, seed, block_m, block_n, heads_per_program, num_warps
    options = (2, 0.0, None, 16, 8, 1, 4)
    tensors = [t.detach() for t in inputs]
    y, lse = torch.ops.cgt.chromatic_attention_fwd(*tensors, ptr, *options)
    strided = [spread(t) for t in (*tensors, ptr)]
    assert not any(t.is_contiguous() for t in strided)
    y_strided, lse_strided = torch.ops.cgt.chromatic_attention_fwd(*strided, *options)
    assert rel_err(y_strided, expected[0]) <= 1e-4
    assert torch.equal(lse_strided, lse)
    bwd_inputs = [spread(t) for t in (dy, *tensors, ptr, y, lse)]
    grads = torch.ops.cgt.chromatic_attention_bwd(*bwd_inputs, *options)
    for name, a, b in zip(NAMES[1:], grads, expected[1:], strict=True):
        assert rel_err(a, b) <= 1e-4, name


def test_ptr_made_under_inference_mode():
    """Inference tensors have no version counter (the layout cache's key otherwise)."""
    inputs, ptr = packed_inputs([3, 4], 4)
    with torch.inference_mode():
        inference_ptr = ptr.clone()
        assert inference_ptr.is_inference()
        y = chromatic_attention(*inputs, inference_ptr, 2)
        assert rel_err(y, reference(*inputs, ptr, 2)) <= 1e-4
        # Modified in place (no version to bump): graphs of 4 and 3 nodes, still 25 pairs.
        inference_ptr[1] = 4
        y = chromatic_attention(*inputs, inference_ptr, 2)
        assert rel_err(y, reference(*inputs, inference_ptr, 2)) <= 1e-4


def test_custom_ops_fake_outputs_are_contiguous_like_the_real_ones():
    """torch.compile plans with the fake outputs: their strides must be the kernels'."""
    inputs, ptr = packed_inputs([3, 4], 4)
    column_major = [t.detach().t().contiguous().t() for t in inputs]
    dy = torch.randn(7, 4, generator=torch.Generator().manual_seed(1)).t().contiguous().t()
    options = (2, 0.5, torch.tensor(3), 8, 8, 1, 4)
    torch.library.opcheck(torch.ops.cgt.chromatic_attention_fwd, (*column_major, ptr, *options))
    y, lse = torch.ops.cgt.chromatic_attention_fwd(*inputs, ptr, *options)
    bwd_inputs = (dy, *column_major, ptr, y.detach(), lse)
    torch.library.opcheck(torch.ops.cgt.chromatic_attention_bwd, (*bwd_inputs, *options))
