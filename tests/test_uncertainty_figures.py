"""The uncertainty pictures (cgt.uncertainty_figures) are written, one pair per target."""

from __future__ import annotations

import numpy as np
from matplotlib.image import imread

from cgt.uncertainty_figures import write_uncertainty_figures


def test_one_parity_and_one_calibration_picture_per_target(tmp_path):
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(60, 2))
    raw = rng.uniform(0.1, 0.5, size=(60, 2))
    y = mean + 2 * raw * rng.normal(size=(60, 2))
    y[3, 1] = np.nan  # a missing target is left out, not drawn as NaN
    written = write_uncertainty_figures(
        tmp_path, y, mean, raw, ["a", "b"], [2.0, 1.5], "synthetic, test split"
    )
    assert [p.name for p in written] == [
        "parity_uncertainty_a.png",
        "calibration_a.png",
        "parity_uncertainty_b.png",
        "calibration_b.png",
    ]
    for path in written:
        image = imread(path)
        assert image.shape[0] > 300 and image.shape[1] > 300
        assert image[..., :3].std() > 0.05  # not blank
    write_uncertainty_figures(tmp_path, y, mean, raw, ["a", "b"], None, "raw only")
