"""Monte Carlo dropout: a trained model's dropout layers switched on at prediction time.

Gal & Ghahramani (ICML 2016): with dropout active, K stochastic forward passes of one
trained model give K different predictions; their mean and standard deviation approximate
a Bayesian model average and its uncertainty. Only the dropout of the model is switched on
(``nn.Dropout`` and the attention dropout of :class:`~cgt.nn.attention.ChromaticSelfAttention`);
BatchNorm keeps its running statistics, so a molecule's passes do not depend on its batch.

It needs a model trained with dropout: with every dropout probability 0 the K passes are
identical and the spread is 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from cgt.nn.attention import ChromaticSelfAttention

__all__ = ["dropout_active", "dropout_layers", "has_dropout"]


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The modules of ``model`` whose ``training`` flag switches a dropout on."""
    return [m for m in model.modules() if isinstance(m, nn.Dropout | ChromaticSelfAttention)]


def has_dropout(model: nn.Module) -> bool:
    """Whether any dropout layer of ``model`` drops with a positive probability."""
    return any((m.p if isinstance(m, nn.Dropout) else m.dropout) > 0 for m in dropout_layers(model))


@contextmanager
def dropout_active(model: nn.Module) -> Iterator[nn.Module]:
    """Puts ``model`` in eval mode with its dropout layers in training mode, and restores
    every module's previous mode on exit."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    for layer in dropout_layers(model):
        layer.train()
    try:
        yield model
    finally:
        for module, training in modes.items():
            module.train(training)
