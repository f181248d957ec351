"""The version of cgt: its one home (read by ``pyproject.toml``, ``cgt.__version__`` and
the metadata of every checkpoint)."""

__version__ = "0.1.0"
