import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings

from geom.testing import seeds
from learned.flow.data import _colour_change, batches, make_pair, photometric_jitter


def _warp_back(img2, flow):
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xs + flow[..., 0], ys + flow[..., 1]
    inside = (mx >= 1) & (my >= 1) & (mx <= w - 2) & (my <= h - 2)
    return cv2.remap(img2, mx, my, cv2.INTER_LINEAR), inside


@given(seeds())
@settings(max_examples=8)
def test_ground_truth_flow_warps_frame_2_onto_frame_1(seed):
    # one layer (no occlusion), moving a few pixels (the frames differ)
    img1, img2, flow = make_pair(seed, 64, 80, n_objects=(0, 0), max_motion=0.05)
    warped, inside = _warp_back(img2, flow)
    err = np.abs(warped - img1).mean(-1)[inside]
    assert inside.mean() > 0.5
    assert np.median(err) < 0.04 < np.median(np.abs(img2 - img1).mean(-1)[inside])


def test_objects_move_differently_from_the_background():
    img1, img2, flow = make_pair(5, 96, 128, n_objects=(3, 3))
    assert img1.dtype == img2.dtype == flow.dtype == np.float32
    assert 0 <= img1.min() and img1.max() <= 1
    assert len(np.unique(np.round(flow.reshape(-1, 2), 1), axis=0)) > 100  # affine, several layers
    warped, inside = _warp_back(img2, flow)
    assert np.median(np.abs(warped - img1).mean(-1)[inside]) < 0.05


def test_batches_are_deterministic_tensors():
    a = next(batches(7, 2, 32, 40))
    b = next(batches(7, 2, 32, 40))
    assert [t.shape for t in a] == [(2, 3, 32, 40), (2, 3, 32, 40), (2, 2, 32, 40)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_photometric_jitter_stays_in_range():
    img = make_pair(1, 32, 32)[0]
    out, = photometric_jitter(np.random.default_rng(0), img)
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1 and not np.allclose(out, img)


@pytest.mark.parametrize("asymmetric", [0.0, 1.0])
def test_photometric_jitter_shares_the_change_unless_asymmetric(asymmetric):
    img = make_pair(2, 32, 32)[0]
    a, b = photometric_jitter(np.random.default_rng(3), img, img, asymmetric=asymmetric)
    gap = np.abs(a - b).mean()  # sensor noise (sigma 0.01) alone: about 0.011
    assert (gap < 0.02) if asymmetric == 0 else (gap > 0.02)


def test_colour_change_keeps_grey_and_changes_colours():
    for seed in range(5):
        mix = _colour_change(np.random.default_rng(seed))
        assert np.allclose(mix.sum(axis=1), 1, atol=1e-6)  # grey stays grey
        assert not np.allclose(mix, np.eye(3), atol=0.05)
    img = make_pair(4, 32, 32)[0]
    plain, = photometric_jitter(np.random.default_rng(4), img, asymmetric=0.0)
    coloured, = photometric_jitter(np.random.default_rng(4), img, asymmetric=0.0, colour=True)
    assert np.abs(coloured - plain).mean() > 0.02


def test_motion_scale_spans_small_and_large_motions():
    med = [np.median(np.linalg.norm(make_pair(s, 64, 80, n_objects=(0, 0))[2], axis=-1))
           for s in range(40)]
    assert min(med) < 1.0 and max(med) > 3.0


def test_small_motion_is_small_everywhere():
    """Rotation and scale shrink with the motion scale: a Middlebury-like pair (a few pixels)
    has no large flows at the image borders."""
    for seed in range(5):
        flow = make_pair(seed, 192, 256, max_motion=0.005)[2]
        assert np.abs(flow).max() < 2 * 3 * 0.005 * 256  # objects: twice the background's
