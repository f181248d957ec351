"""cgt: the Chromatic Graph Transformer for molecular property prediction.

The public API in one place:

- :class:`ChromaticSelfAttention`: the attention layer, for your own models;
- :class:`CGT`: the whole model (``nn.Module``) and :class:`CGTModule`, its Lightning system;
- :func:`load_model` / :func:`predict`: SMILES in, predictions out, from a checkpoint;
- :func:`featurize_smiles`: SMILES to a graph; :class:`InvalidSmilesError` when that fails.
"""

__version__ = "0.1.0"

from cgt.data.featurize import featurize_smiles
from cgt.errors import InvalidSmilesError, VocabularyError
from cgt.inference import CGTPredictor, load_model, predict
from cgt.model import CGT
from cgt.nn.attention import ChromaticSelfAttention
from cgt.system import CGTModule

__all__ = [
    "CGT",
    "CGTModule",
    "CGTPredictor",
    "ChromaticSelfAttention",
    "InvalidSmilesError",
    "VocabularyError",
    "__version__",
    "featurize_smiles",
    "load_model",
    "predict",
]
