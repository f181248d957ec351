import math

import pytest
import torch

from cgt.nn.attention import ChromaticSelfAttention, resolve_backend


def naive_csa(layer, x, pair_att, pair_val, sizes):
    """docs/design.md §2 + output projection, graph by graph, node by node, in float64."""
    wq, wk, wv = (p.weight.double() for p in (layer.q_proj, layer.k_proj, layer.v_proj))
    wo, bo = layer.out_proj.weight.double(), layer.out_proj.bias.double()
    x, pair_att, pair_val = x.double(), pair_att.double(), pair_val.double()
    channels, heads = x.shape[1], layer.heads
    d = channels // heads
    outputs, node, pair = [], 0, 0
    for n in sizes:
        h = x[node : node + n]
        q, k, v = h @ wq.T, h @ wk.T, h @ wv.T
        for i in range(n):
            logits = torch.empty(n, channels, dtype=torch.float64)
            for j in range(n):
                for c in range(channels):
                    head = slice((c // d) * d, (c // d + 1) * d)
                    score = (q[i, head] * k[j, head]).sum() / math.sqrt(d)
                    logits[j, c] = score + pair_att[pair + i * n + j, c]
            alpha = logits.softmax(dim=0)
            y = (alpha * (v + pair_val[pair + i * n : pair + (i + 1) * n])).sum(0)
            outputs.append(wo @ y + bo)
        node, pair = node + n, pair + n * n
    return torch.stack(outputs)


def packed_inputs(sizes, channels, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    num_pairs = sum(n * n for n in sizes)
    x = torch.randn(sum(sizes), channels, generator=gen, dtype=dtype)
    pair_att = torch.randn(num_pairs, channels, generator=gen, dtype=dtype)
    pair_val = torch.randn(num_pairs, channels, generator=gen, dtype=dtype)
    ptr = torch.tensor([0, *torch.tensor(sizes).cumsum(0).tolist()])
    return x, pair_att, pair_val, ptr


@pytest.mark.parametrize(
    "sizes,channels,heads", [([1, 4, 2, 5], 8, 2), ([3, 1], 6, 3), ([1], 4, 1)]
)
def test_matches_naive_float64(sizes, channels, heads):
    torch.manual_seed(0)
    layer = ChromaticSelfAttention(channels, heads, backend="torch").double()
    x, pair_att, pair_val, ptr = packed_inputs(sizes, channels)
    y = layer(x, pair_att, pair_val, ptr)
    assert y.shape == (sum(sizes), channels)
    torch.testing.assert_close(y, naive_csa(layer, x, pair_att, pair_val, sizes))


def test_gradients_reach_inputs_and_every_parameter():
    torch.manual_seed(0)
    layer = ChromaticSelfAttention(8, 2, dropout=0.3, backend="torch")
    x, pair_att, pair_val, ptr = packed_inputs([3, 1, 4], 8, dtype=torch.float32)
    for t in (x, pair_att, pair_val):
        t.requires_grad_()
    layer(x, pair_att, pair_val, ptr).square().sum().backward()
    for name, t in [("x", x), ("pair_att", pair_att), ("pair_val", pair_val)] + list(
        layer.named_parameters()
    ):
        assert t.grad is not None and t.grad.abs().sum() > 0, name


def test_dropout_only_in_training():
    torch.manual_seed(0)
    layer = ChromaticSelfAttention(8, 2, dropout=0.5, backend="torch")
    inputs = packed_inputs([5, 6], 8, dtype=torch.float32)
    layer.eval()
    torch.testing.assert_close(layer(*inputs), layer(*inputs))
    layer.train()
    assert not torch.allclose(layer(*inputs), layer(*inputs))


def test_reset_parameters_and_repr():
    layer = ChromaticSelfAttention(16, 4, dropout=0.1, backend="torch")
    with torch.no_grad():
        layer.out_proj.bias.fill_(1.0)
    before = layer.q_proj.weight.clone()
    layer.reset_parameters()
    assert not torch.equal(before, layer.q_proj.weight)
    assert torch.all(layer.out_proj.bias == 0)
    assert layer.q_proj.bias is None and layer.k_proj.bias is None and layer.v_proj.bias is None
    assert repr(layer) == "ChromaticSelfAttention(16, heads=4, dropout=0.1, backend='torch')"


def test_backend_resolution(monkeypatch):
    monkeypatch.delenv("CGT_CSA_BACKEND", raising=False)
    assert resolve_backend("auto", on_cuda=False) == "torch"
    assert resolve_backend("auto", on_cuda=True) == "triton"
    assert resolve_backend("torch", on_cuda=True) == "torch"
    monkeypatch.setenv("CGT_CSA_BACKEND", "triton")
    assert resolve_backend("auto", on_cuda=False) == "triton"
    assert resolve_backend("torch", on_cuda=False) == "torch"
    monkeypatch.setenv("CGT_CSA_BACKEND", "cuda")
    with pytest.raises(ValueError, match="CGT_CSA_BACKEND"):
        resolve_backend("auto", on_cuda=False)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="backend"):
        ChromaticSelfAttention(8, 2, backend="flash")
    with pytest.raises(ValueError, match="divisible"):
        ChromaticSelfAttention(10, 4)
    with pytest.raises(ValueError, match="dropout"):
        ChromaticSelfAttention(8, 2, dropout=1.0)


def test_attention_weights_average_the_channels_of_each_head():
    from cgt.nn.functional import attention_weights

    torch.manual_seed(0)
    csa = ChromaticSelfAttention(8, heads=2)
    ptr = torch.tensor([0, 3, 5])
    x, pair_att = torch.randn(5, 8), torch.randn(13, 8)
    weights = csa.attention_weights(x, pair_att, ptr)
    assert weights.shape == (13, 2)
    alpha = attention_weights(csa.q_proj(x), csa.k_proj(x), pair_att, ptr, 2)
    torch.testing.assert_close(weights[:, 0], alpha[:, :4].mean(1))
    torch.testing.assert_close(weights[:3].sum(0), torch.ones(2))  # node 0's row, graph 0
