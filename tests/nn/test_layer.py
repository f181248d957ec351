import torch

from cgt.nn.layer import CGTLayer


def test_post_norm_composition_and_gradients():
    torch.manual_seed(0)
    layer = CGTLayer(8, heads=2, backend="torch")
    ptr = torch.tensor([0, 3, 4, 9])
    num_pairs = 9 + 1 + 25
    x = torch.randn(9, 8, requires_grad=True)
    pair_att = torch.randn(num_pairs, 8, requires_grad=True)
    pair_val = torch.randn(num_pairs, 8, requires_grad=True)
    out = layer(x, pair_att, pair_val, ptr)
    # Post-norm: in training mode the output is batch-normalised per channel.
    torch.testing.assert_close(out.mean(0), torch.zeros(8), atol=1e-5, rtol=0)
    h = layer.norm1(x + layer.attention(x, pair_att, pair_val, ptr))
    torch.testing.assert_close(out, layer.norm2(h + layer.ffn(h)))
    out.square().sum().backward()
    for name, t in [("x", x), ("pair_att", pair_att), ("pair_val", pair_val)] + list(
        layer.named_parameters()
    ):
        assert t.grad is not None and t.grad.abs().sum() > 0, name


def test_ffn_is_two_c_wide():
    layer = CGTLayer(64, heads=8)
    assert layer.ffn[0].out_features == 128 and layer.ffn[-1].out_features == 64
