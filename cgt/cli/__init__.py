"""The command lines of cgt, apart from the library they drive.

- :mod:`cgt.cli.train`: ``python -m cgt.train`` / ``cgt-train``, a LightningCLI that trains
  :class:`cgt.system.CGTModule` from a YAML config;
- :mod:`cgt.cli.predict`: ``python -m cgt.predict`` / ``cgt-predict``, SMILES or a CSV file
  in, a CSV of predictions out;
- :mod:`cgt.cli.checkpoint_io`: the atomic checkpoint writer of training runs.

``cgt/train.py`` and ``cgt/predict.py`` only run these ``main`` functions under
``python -m``; ``cgt.predict`` itself is the function :func:`cgt.inference.predict`.
"""
