import math

import pytest
import torch

from cgt.nn.functional import chromatic_attention


def naive_attention(q, k, v, pair_att, pair_val, sizes, heads, keep=None, p=0.0):
    """docs/design.md §2 written graph by graph with dense n×n×C tensors."""
    channels = q.shape[1]
    d = channels // heads
    out = torch.zeros_like(q)
    node, pair = 0, 0
    for n in sizes:
        qg, kg, vg = (t[node : node + n] for t in (q, k, v))
        att = pair_att[pair : pair + n * n].view(n, n, channels)
        val = pair_val[pair : pair + n * n].view(n, n, channels)
        s = torch.einsum("ihd,jhd->ijh", qg.view(n, heads, d), kg.view(n, heads, d))
        alpha = (s.repeat_interleave(d, -1) / math.sqrt(d) + att).softmax(dim=1)
        if keep is not None:
            alpha = alpha * keep[pair : pair + n * n].view(n, n, 1) / (1 - p)
        out[node : node + n] = (alpha * (vg[None] + val)).sum(1)
        node, pair = node + n, pair + n * n
    return out


def random_inputs(sizes, channels, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    num_nodes, num_pairs = sum(sizes), sum(n * n for n in sizes)
    nodes = [torch.randn(num_nodes, channels, generator=gen, dtype=dtype) for _ in range(3)]
    pairs = [torch.randn(num_pairs, channels, generator=gen, dtype=dtype) for _ in range(2)]
    ptr = torch.tensor([0, *torch.tensor(sizes).cumsum(0).tolist()])
    return [t.requires_grad_() for t in nodes + pairs], ptr


@pytest.mark.parametrize(
    "sizes,channels,heads", [([1, 3, 5], 8, 2), ([4, 1, 7, 2], 12, 3), ([1], 4, 4)]
)
def test_matches_naive_and_gradcheck(sizes, channels, heads):
    inputs, ptr = random_inputs(sizes, channels)
    y = chromatic_attention(*inputs, ptr, heads)
    torch.testing.assert_close(y, naive_attention(*inputs, sizes, heads))
    assert torch.autograd.gradcheck(lambda *a: chromatic_attention(*a, ptr, heads), inputs)


def test_dropout_mask_is_shared_by_channels_and_scaled():
    sizes, channels, heads, p = [3, 6], 8, 2, 0.4
    inputs, ptr = random_inputs(sizes, channels, seed=1)
    keep = torch.rand(sum(n * n for n in sizes), generator=torch.Generator().manual_seed(2)) >= p
    y = chromatic_attention(*inputs, ptr, heads, dropout_p=p, dropout_mask=keep)
    torch.testing.assert_close(y, naive_attention(*inputs, sizes, heads, keep=keep, p=p))
    assert torch.autograd.gradcheck(
        lambda *a: chromatic_attention(*a, ptr, heads, dropout_p=p, dropout_mask=keep), inputs
    )


def test_rejects_pair_tensors_of_the_wrong_size():
    inputs, ptr = random_inputs([2, 3], 4)
    inputs[3] = inputs[3][:-1]
    with pytest.raises(ValueError, match="pair_att has shape"):
        chromatic_attention(*inputs, ptr, heads=2)


@pytest.mark.parametrize("case", ["large scores", "channel far below the others"])
def test_large_logits_are_shifted_safely(case):
    # exp of these logits overflows (large scores), or the per-row shift underflows one
    # channel (channel 0 about 1000 below the others): both must still match the naive softmax.
    sizes, channels, heads = [4, 1, 6], 8, 2
    inputs, ptr = random_inputs(sizes, channels, seed=4)
    with torch.no_grad():
        if case == "large scores":
            inputs[0].mul_(1000.0)
        else:
            inputs[3][:, 0] -= 1000.0
    y = chromatic_attention(*inputs, ptr, heads)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, naive_attention(*inputs, sizes, heads))
    assert torch.autograd.gradcheck(lambda *a: chromatic_attention(*a, ptr, heads), inputs)


@pytest.mark.parametrize("wanted", [0, 1, 2, 3, 4])
def test_gradient_of_a_single_input_matches_naive(wanted):
    sizes, channels, heads, p = [3, 5], 8, 4, 0.3
    inputs, ptr = random_inputs(sizes, channels, seed=5)
    keep = torch.rand(sum(n * n for n in sizes), generator=torch.Generator().manual_seed(6)) >= p
    for i, tensor in enumerate(inputs):
        tensor.requires_grad_(i == wanted)
    dy = torch.randn(sum(sizes), channels, dtype=torch.float64)
    (grad,) = torch.autograd.grad(
        chromatic_attention(*inputs, ptr, heads, dropout_p=p, dropout_mask=keep), inputs[wanted], dy
    )
    (expected,) = torch.autograd.grad(
        naive_attention(*inputs, sizes, heads, keep=keep, p=p), inputs[wanted], dy
    )
    torch.testing.assert_close(grad, expected)


def test_double_backward_is_refused():
    inputs, ptr = random_inputs([3, 2], 4)
    y = chromatic_attention(*inputs, ptr, heads=2)
    (grad_q,) = torch.autograd.grad(y.square().sum(), inputs[0], create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|differentiate"):
        grad_q.sum().backward()


def test_bfloat16_inputs_keep_fp32_statistics():
    sizes, channels, heads = [5, 9], 16, 4
    inputs, ptr = random_inputs(sizes, channels, dtype=torch.bfloat16, seed=7)
    y = chromatic_attention(*inputs, ptr, heads)
    assert y.dtype == torch.bfloat16
    expected = naive_attention(*(t.double() for t in inputs), sizes, heads)
    torch.testing.assert_close(y.double(), expected, atol=2e-2, rtol=2e-2)
    y.float().square().sum().backward()
    for tensor in inputs:
        assert tensor.grad is not None and tensor.grad.dtype == torch.bfloat16
        assert torch.isfinite(tensor.grad.float()).all()


def test_a_batch_seen_in_inference_mode_still_trains():
    """The batch layout is cached across calls: one first built under inference mode
    (validation, prediction) must still serve a later call that needs gradients."""
    inputs, ptr = random_inputs([3, 4, 2], 8, dtype=torch.float32, seed=3)
    with torch.inference_mode():
        expected = chromatic_attention(*(t.detach() for t in inputs), ptr, heads=2)
    y = chromatic_attention(*inputs, ptr, heads=2)
    y.sum().backward()
    torch.testing.assert_close(y.detach(), expected)
    assert all(t.grad is not None for t in inputs)


@pytest.mark.parametrize("sizes,channels,heads", [([1, 3, 5], 8, 2), ([4, 1, 7, 2], 12, 3)])
def test_attention_weights_are_the_softmax_the_attention_applies(sizes, channels, heads):
    from cgt.nn.functional import attention_weights
    from cgt.packing import pair_index

    (q, k, v, pair_att, pair_val), ptr = random_inputs(sizes, channels, seed=3)
    alpha = attention_weights(q, k, pair_att, ptr, heads)
    assert alpha.shape == pair_att.shape
    row = pair_index(ptr).row
    sums = torch.zeros(sum(sizes), channels, dtype=alpha.dtype).index_add_(0, row, alpha)
    torch.testing.assert_close(sums, torch.ones_like(sums))
    # y_i = Σ_j α_ij (v_j + E_val[ij]) is what chromatic_attention returns without dropout.
    col = pair_index(ptr).col
    y = torch.zeros_like(q).index_add_(0, row, alpha * (v[col] + pair_val))
    torch.testing.assert_close(y, chromatic_attention(q, k, v, pair_att, pair_val, ptr, heads))
    torch.testing.assert_close(y, naive_attention(q, k, v, pair_att, pair_val, sizes, heads))
