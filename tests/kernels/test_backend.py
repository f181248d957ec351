"""The layer's backend switch (cgt.nn.attention) and training through the kernel."""

import pytest
import torch
from kernel_testing import rel_err
from torch_geometric.data import Batch

import cgt.kernels
from cgt.data import featurize_smiles
from cgt.model import CGT
from cgt.nn.attention import ChromaticSelfAttention


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts the calls the layer makes to cgt.kernels.chromatic_attention."""
    calls = []
    kernel = cgt.kernels.chromatic_attention

    def spy(*args, **kwargs):
        calls.append(kwargs.get("dropout_p"))
        return kernel(*args, **kwargs)

    monkeypatch.setattr(cgt.kernels, "chromatic_attention", spy)
    return calls


def layer_inputs(sizes=(1, 5, 9), channels=8):
    gen = torch.Generator().manual_seed(0)
    num_pairs = sum(n * n for n in sizes)
    x = torch.randn(sum(sizes), channels, generator=gen)
    pair_att = torch.randn(num_pairs, channels, generator=gen, requires_grad=True)
    pair_val = torch.randn(num_pairs, channels, generator=gen, requires_grad=True)
    ptr = torch.tensor([0, *torch.tensor(sizes).cumsum(0).tolist()])
    return x, pair_att, pair_val, ptr


def test_triton_backend_matches_torch_backend(kernel_calls):
    torch.manual_seed(0)
    layer = ChromaticSelfAttention(8, heads=2, backend="torch")
    inputs = layer_inputs()
    expected = layer(*inputs)
    expected_grads = torch.autograd.grad(expected.sum(), [*layer.parameters(), *inputs[1:3]])
    assert kernel_calls == []
    layer.backend = "triton"
    actual = layer(*inputs)
    grads = torch.autograd.grad(actual.sum(), [*layer.parameters(), *inputs[1:3]])
    assert kernel_calls == [0.0]
    assert rel_err(actual, expected) <= 1e-4
    for a, b in zip(grads, expected_grads, strict=True):
        assert rel_err(a, b) <= 1e-4


def test_auto_uses_the_reference_on_cpu_unless_the_environment_says_otherwise(
    kernel_calls, monkeypatch
):
    layer = ChromaticSelfAttention(8, heads=2, dropout=0.5, backend="auto")
    inputs = layer_inputs()
    monkeypatch.delenv("CGT_CSA_BACKEND", raising=False)
    layer(*inputs)
    assert kernel_calls == []
    monkeypatch.setenv("CGT_CSA_BACKEND", "triton")
    layer(*inputs)
    layer.eval()(*inputs)
    assert kernel_calls == [0.5, 0.0]  # training: attention dropout; eval: none
    monkeypatch.setenv("CGT_CSA_BACKEND", "torch")
    layer(*inputs)
    assert len(kernel_calls) == 2
    monkeypatch.setenv("CGT_CSA_BACKEND", "cuda")
    with pytest.raises(ValueError, match="CGT_CSA_BACKEND"):
        layer(*inputs)


def test_tiny_model_trains_with_the_kernel_backend(kernel_calls):
    smiles = ["CCO", "c1ccccc1O", "CC(=O)N", "C1CC1Cl"]
    batch = Batch.from_data_list([featurize_smiles(s) for s in smiles])
    target = torch.tensor([[0.5], [-1.0], [0.2], [1.5]])
    torch.manual_seed(0)
    model = CGT(channels=8, layers=2, heads=2, steps=4, attention_dropout=0.2, backend="triton")
    reference = CGT(**{**model.config, "backend": "torch"})
    reference.load_state_dict(model.state_dict())
    torch.testing.assert_close(model.eval()(batch), reference.eval()(batch), rtol=1e-4, atol=1e-5)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = (model(batch) - target).abs().mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0] and min(losses[1:]) < 0.8 * losses[0], losses
    assert kernel_calls.count(0.2) == 2 * 5  # every training step, both layers


def test_layer_with_the_kernel_compiles_in_one_graph():
    torch.manual_seed(0)
    layer = ChromaticSelfAttention(8, heads=2, dropout=0.3, backend="triton")
    inputs = layer_inputs()
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    compiled(*inputs).sum().backward()  # training: dropout seed drawn inside the graph
    assert torch.isfinite(inputs[1].grad).all() and inputs[1].grad.abs().sum() > 0
    layer.eval()
    torch.testing.assert_close(compiled(*inputs), layer(*inputs))


def test_triton_backend_under_inference_mode(kernel_calls):
    """As in prediction on CUDA, where the batch is moved inside inference mode."""
    torch.manual_seed(0)
    layer = ChromaticSelfAttention(8, heads=2, dropout=0.5, backend="torch").eval()
    inputs = layer_inputs()
    with torch.no_grad():
        expected = layer(*inputs)
    layer.backend = "triton"
    with torch.inference_mode():
        batch = [t.clone() for t in inputs]
        assert all(t.is_inference() for t in batch)
        actual = layer(*batch)
    assert kernel_calls == [0.0]
    assert rel_err(actual, expected) <= 1e-4
