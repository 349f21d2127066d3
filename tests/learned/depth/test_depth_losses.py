import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geom.testing import seeds
from learned.depth.losses import (bin_centre_loss, gradient_loss, lr_consistency_loss, min_reprojection_loss,
                                  normal_loss, photometric_loss, scale_invariant_log_loss,
                                  smoothness_loss, ssim, stereo_photometric_loss, surface_normals,
                                  view_synthesis_loss)

scales = st.floats(0.01, 100.0)


def _depth(seed, shape=(2, 1, 12, 16)):
    g = torch.Generator().manual_seed(seed % 2**31)
    return torch.rand(shape, generator=g, dtype=torch.float64) * 9 + 1


@given(seeds(), scales)
@settings(max_examples=25)
def test_scale_invariant_loss_ignores_a_global_scale_at_lambda_1(seed, c):
    pred, target = _depth(seed), _depth(seed + 1)
    a = scale_invariant_log_loss(pred, target, lam=1.0)
    assert a > 0
    assert scale_invariant_log_loss(c * pred, target, lam=1.0) == pytest.approx(float(a), rel=1e-9, abs=1e-12)


def test_scale_invariant_loss_by_hand():
    target = _depth(0)
    pred = math.e * target  # d = 1 at every pixel
    for lam in (0.0, 0.5, 0.85, 1.0):
        assert float(scale_invariant_log_loss(pred, target, lam=lam)) == pytest.approx(1 - lam)
    mask = torch.zeros_like(target, dtype=torch.bool)
    mask[..., :4, :4] = True
    pred[~mask] = 123.0  # outside the mask: ignored
    assert float(scale_invariant_log_loss(pred, target, mask, lam=0.0)) == pytest.approx(1.0)


@given(seeds(), scales)
@settings(max_examples=25)
def test_gradient_loss_is_scale_invariant_and_zero_for_a_match(seed, c):
    target = _depth(seed)
    assert float(gradient_loss(c * target, target)) == pytest.approx(0.0, abs=1e-9)
    assert gradient_loss(_depth(seed + 1), target) > 0.1


def test_gradient_loss_by_hand():
    target = torch.ones(1, 1, 4, 6, dtype=torch.float64)
    xs = torch.arange(6, dtype=torch.float64)
    pred = torch.exp(0.3 * xs).expand(1, 1, 4, 6)  # log difference is a ramp of slope 0.3 in x
    assert float(gradient_loss(pred, target, scales=1)) == pytest.approx(0.3)
    assert float(gradient_loss(pred, target, scales=2)) == pytest.approx(0.3 + 0.6)


def test_normal_loss_by_hand():
    flat = torch.full((1, 1, 6, 7), 2.0, dtype=torch.float64)
    slope = flat + torch.arange(7, dtype=torch.float64)  # dz/dx = 1
    assert float(normal_loss(flat, flat)) == 0
    assert float(normal_loss(slope, flat)) == pytest.approx(1 - 1 / math.sqrt(2))
    n = surface_normals(slope)
    torch.testing.assert_close(n[0, :, 0, 0], torch.tensor([-1, 0, 1], dtype=torch.float64) / math.sqrt(2))


def _stereo(seed, d, shape=(1, 3, 10, 24)):
    """A right image and the left image that sees it shifted by d px: left(x) = right(x - d)."""
    right = torch.rand(shape, generator=torch.Generator().manual_seed(seed % 2**31))
    left = torch.roll(right, d, dims=3)
    return left, right


@given(seeds(), st.integers(1, 4))
@settings(max_examples=15)
def test_photometric_loss_is_zero_for_a_perfect_warp(seed, d):
    left, right = _stereo(seed, d)
    disp = torch.full((1, 1, 10, 24), float(d))
    mask = torch.zeros_like(disp, dtype=torch.bool)
    mask[..., d + 1:] = True  # left columns < d see nothing in the right image
    assert float(stereo_photometric_loss(left, right, disp, mask)) < 1e-6
    assert float(stereo_photometric_loss(left, right, disp + 1, mask)) > 0.05


def test_photometric_gradient_flows_to_the_prediction():
    left, right = _stereo(3, 2)
    disp = torch.full((1, 1, 10, 24), 2.4, requires_grad=True)
    stereo_photometric_loss(left, right, disp).backward()
    assert torch.isfinite(disp.grad).all() and disp.grad.abs().sum() > 0
    pred = _depth(1).requires_grad_()
    (scale_invariant_log_loss(pred, _depth(2)) + gradient_loss(pred, _depth(2))
     + normal_loss(pred, _depth(2))).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_photometric_loss_with_a_flow_and_ssim_of_identical_images():
    img = torch.rand(1, 3, 8, 9)
    torch.testing.assert_close(ssim(img, img), torch.ones_like(img))
    assert float(photometric_loss(img, img, torch.zeros(1, 2, 8, 9))) < 1e-6


def test_lr_consistency():
    d = torch.full((1, 1, 6, 20), 3.0)
    assert float(lr_consistency_loss(d, d)) == pytest.approx(0, abs=1e-6)
    assert float(lr_consistency_loss(d, d + 1)) == pytest.approx(2.0)


def test_edge_aware_smoothness():
    img = torch.zeros(1, 3, 8, 16)
    img[..., 8:] = 1.0  # an image edge between columns 7 and 8
    flat = torch.ones(1, 1, 8, 16)
    assert float(smoothness_loss(flat, img)) == 0
    at_edge, elsewhere = flat.clone(), flat.clone()
    at_edge[..., 8:] = 2.0
    elsewhere[..., 4:] = 2.0
    assert 0 < smoothness_loss(at_edge, img) < smoothness_loss(elsewhere, img)


def test_min_reprojection_takes_the_best_source_and_automasks_static_pixels():
    target, _ = _stereo(0, 0, (1, 3, 12, 20))
    good = torch.roll(target, 2, dims=3)  # target(x) = good(x + 2)
    noise = torch.rand(1, 3, 12, 20, generator=torch.Generator().manual_seed(9))
    shift = torch.zeros(1, 2, 12, 20)
    shift[:, 0] = 2.0
    best, _ = min_reprojection_loss(target, [good], [shift], automask=False)
    both, _ = min_reprojection_loss(target, [good, noise], [shift, shift], automask=False)
    bad, _ = min_reprojection_loss(target, [noise], [shift], automask=False)
    assert both <= best + 1e-7 and best < 0.1 * bad
    _, mask = min_reprojection_loss(target, [target.clone()], [shift])  # static camera, wrong flow
    assert mask.float().mean() < 0.05
    with pytest.raises(ValueError, match="sources and flows"):
        min_reprojection_loss(target, [good], [])


def test_stereo_photometric_loss_on_a_real_pair_with_true_disparity(dataset):
    import cv2

    folder = dataset("middlebury_stereo_v2") / "teddy"

    def read(name, flags=cv2.IMREAD_COLOR):
        img = cv2.imread(str(folder / name), flags)
        t = torch.from_numpy(img.astype(np.float32) / 255)
        return t.permute(2, 0, 1)[None] if t.ndim == 3 else t[None, None]

    left, right = read("im2.png"), read("im6.png")
    disp = read("groundtruth.png", cv2.IMREAD_GRAYSCALE) * 255 / 4  # scale 4 (SOURCE.md)
    mask = read("nonocc.png", cv2.IMREAD_GRAYSCALE) == 1
    true = float(stereo_photometric_loss(left, right, disp, mask))
    assert true < 0.3 * float(stereo_photometric_loss(left, right, torch.zeros_like(disp), mask))
    assert true < 0.5 * float(stereo_photometric_loss(left, right, disp + 2, mask))


def test_view_synthesis_loss_is_minimal_at_the_true_depth():
    from learned.depth.data import view_batches

    target, sources, K, R, t, depth = next(view_batches(4, 2, 40, 56))
    true = float(view_synthesis_loss([depth, depth[..., ::2, ::2]], target, sources, K, R, t))
    for wrong in (1.5 * depth, torch.full_like(depth, float(depth.mean()))):
        assert true < 0.3 * float(view_synthesis_loss([wrong], target, sources, K, R, t))
    guess = (depth * 1.2).requires_grad_()
    view_synthesis_loss([guess], target, sources, K, R, t).backward()
    assert torch.isfinite(guess.grad).all() and guess.grad.abs().sum() > 0


def _brute_force_chamfer(a, b):
    d = (a[:, None] - b[None, :]) ** 2
    return d.min(1).values.mean() + d.min(0).values.mean()


@given(seeds(), st.integers(1, 12), st.integers(1, 40), st.floats(-5.0, 5.0))
@settings(max_examples=30)
def test_bin_centre_loss_is_a_symmetric_shift_invariant_chamfer_distance(seed, n, m, shift):
    g = torch.Generator().manual_seed(seed % 2**31)
    a = torch.randn(n, generator=g, dtype=torch.float64) * 2
    b = torch.randn(m, generator=g, dtype=torch.float64) * 2
    loss = bin_centre_loss(a[None], b.view(1, 1, 1, m))
    torch.testing.assert_close(loss, _brute_force_chamfer(a, b))
    torch.testing.assert_close(loss, bin_centre_loss(b[None], a.view(1, 1, 1, n)))
    torch.testing.assert_close(bin_centre_loss(a[None] + shift, b.view(1, 1, 1, m) + shift), loss)
    assert loss >= 0


def test_bin_centre_loss_is_zero_on_the_depth_set_only():
    values = torch.tensor([0.5, 1.0, 2.0, 3.0]).repeat(2, 1, 3, 2)  # (2, 1, 3, 8)
    centres = torch.tensor([[3.0, 2.0, 1.0, 0.5], [0.5, 1.0, 2.0, 3.0]])  # order does not matter
    assert float(bin_centre_loss(centres, values)) == 0
    # without 3 in image 0 and 0.5 in image 1: a quarter of the values are 1 and 0.5 away
    assert float(bin_centre_loss(centres[:, 1:], values)) == pytest.approx((1 / 4 + 0.25 / 4) / 2)
    extra = torch.cat([centres, torch.tensor([[4.0], [0.5]])], dim=1)  # 4 is 1 away from 3
    assert float(bin_centre_loss(extra, values)) == pytest.approx((1 / 5 + 0) / 2)

def test_bin_centre_loss_mask_and_gradient():
    values = torch.tensor([[1.0, 2.0], [7.0, 9.0]]).view(1, 1, 2, 2)
    mask = torch.tensor([[True, True], [False, False]]).view(1, 1, 2, 2)
    centres = torch.tensor([[1.0, 2.0]], requires_grad=True)
    assert bin_centre_loss(centres, values, mask).item() == 0  # 7 and 9 are masked out
    assert bin_centre_loss(centres, values, torch.zeros_like(mask)).item() == 0  # no valid value
    loss = bin_centre_loss(centres, values)
    loss.backward()
    assert loss > 0 and torch.isfinite(centres.grad).all() and (centres.grad < 0).any()
    with pytest.raises(ValueError, match="centres and values"):
        bin_centre_loss(centres[0], values)
    with pytest.raises(ValueError, match="centres and values"):
        bin_centre_loss(centres.expand(2, 2), values)
