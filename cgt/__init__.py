"""cgt: the Chromatic Graph Transformer for molecular property prediction."""

__version__ = "0.1.0"
