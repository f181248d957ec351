"""Per-target figures (cgt.figures): many targets wrap into rows of panels."""

from __future__ import annotations

import numpy as np
from PIL import Image

from cgt.figures import parity_plot, roc_plot


def _size(path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def test_many_targets_wrap_into_rows_of_six_panels(tmp_path):
    rng = np.random.default_rng(0)
    one = _size(parity_plot(rng.normal(size=(30, 1)), rng.normal(size=(30, 1)), ["a"],
                            tmp_path / "one.png"))  # fmt: skip
    names = [f"t{k}" for k in range(8)]
    many = _size(parity_plot(rng.normal(size=(30, 8)), rng.normal(size=(30, 8)), names,
                             tmp_path / "many.png"))  # fmt: skip
    # six panels across (not eight), two rows down
    assert 5 * one[0] < many[0] < 7 * one[0]
    assert 1.6 * one[1] < many[1] < 2.4 * one[1]
    labels = rng.integers(0, 2, size=(30, 8)).astype(float)
    roc = _size(roc_plot(labels, rng.random(size=(30, 8)), names, tmp_path / "roc.png"))
    assert roc[0] < 7 * one[0] and roc[1] > 1.6 * one[1]
