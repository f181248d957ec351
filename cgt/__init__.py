"""cgt: the Chromatic Graph Transformer for molecular property prediction.

The public API in one place:

- :class:`ChromaticSelfAttention`: the attention layer, for your own models;
- :class:`CGT`: the whole model (``nn.Module``) and :class:`CGTModule`, its Lightning system;
- :func:`load_model` / :func:`predict`: SMILES in, predictions out, from a checkpoint;
  ``load_model(...).explain(smiles)``: an :class:`Explanation` (atom contributions, attention);
- :func:`pretrained`: the pretrained models shipped with cgt (:class:`PretrainedModel`);
  ``load_model(name)`` predicts with one, ``--model.init_from name`` fine-tunes it;
- :func:`featurize_smiles`: SMILES to a graph; :class:`InvalidSmilesError` when that fails
  (all molecule errors are :class:`MoleculeError`, a ``ValueError``).

Names are imported on first use, so ``from cgt import ChromaticSelfAttention`` needs only
PyTorch (not RDKit or Lightning).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cgt.version import __version__

# Public name -> module that defines it: the one list of the lazy exports.
_EXPORTS = {
    "CGT": "cgt.model",
    "CGTModule": "cgt.system",
    "CGTPredictor": "cgt.inference",
    "ChromaticSelfAttention": "cgt.nn.attention",
    "Explanation": "cgt.explanation",
    "InvalidRowsError": "cgt.errors",
    "InvalidSmilesError": "cgt.errors",
    "MoleculeError": "cgt.errors",
    "PretrainedModel": "cgt.pretrained_models",
    "VocabularyError": "cgt.errors",
    "featurize_smiles": "cgt.data.smiles_to_graph",
    "load_model": "cgt.inference",
    "predict": "cgt.inference",
    "pretrained": "cgt.pretrained_models",
}

__all__ = sorted([*_EXPORTS, "__version__"])

# For type checkers and IDEs: the same names from the same modules as _EXPORTS
# (tests/test_package.py checks that the two agree).
if TYPE_CHECKING:
    from cgt.data.smiles_to_graph import featurize_smiles
    from cgt.errors import InvalidRowsError, InvalidSmilesError, MoleculeError, VocabularyError
    from cgt.explanation import Explanation
    from cgt.inference import CGTPredictor, load_model, predict
    from cgt.model import CGT
    from cgt.nn.attention import ChromaticSelfAttention
    from cgt.pretrained_models import PretrainedModel, pretrained
    from cgt.system import CGTModule


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cgt' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
