"""The shipped depth weights 'unet-synth' (learned/weights/unet_synth.pt)."""
import numpy as np
import pytest

import learned
from geom.synth.render import render
from learned.depth.metrics import depth_metrics
from learned.depth.scenes import GENERATORS
from learned.plugins import NETWORKS


@pytest.fixture(scope="module")
def est():
    return learned.load_depth("unet-synth", device="cpu")


def test_meaning_and_training_command(est):
    assert (est.output, est.inverse, est.working_size) == ("scale", False, 160)
    assert est.meta["complete"] and NETWORKS["unet-synth"][2].endswith(est.meta["command"])


@pytest.mark.parametrize("shape", [(37, 53, 3), (120, 160), (90, 300, 3), (480, 640, 3)])
def test_finite_positive_depth_at_any_size(est, shape):
    img = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    depth = est(img)
    assert depth.shape == shape[:2] and depth.dtype == np.float32
    assert np.isfinite(depth).all() and (depth > 0).all()


def test_better_than_a_constant_on_held_out_scenes(est):
    """Median-scaled AbsRel on one unseen scene of each training generator: below that of a
    constant depth (which needs no image), i.e. the weights carry relative depth."""
    ours, constant = [], []
    for i, make in enumerate(GENERATORS.values()):
        frame = render(make(424242 + i, 160, 120), antialias=1).frames[0]
        gt = np.where(np.isfinite(frame.depth), frame.depth, 0)
        ours.append(depth_metrics(est(frame.image), gt, align="median")["abs_rel"])
        constant.append(depth_metrics(np.ones_like(gt), gt, align="median")["abs_rel"])
    assert np.mean(ours) < 0.75 * np.mean(constant)


@pytest.mark.parametrize("img, match", [
    ("image.png", "a numpy array"),
    (np.zeros((8, 8), np.int64), "dtype uint8 or float32"),
    (np.zeros((8, 8, 2), np.uint8), r"shape \(H, W\) or \(H, W, 3\)"),
])
def test_wrong_image_says_what_is_expected(est, img, match):
    with pytest.raises(ValueError, match="img: expected " + match):
        est(img)
