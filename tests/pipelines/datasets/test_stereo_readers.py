import numpy as np
import pytest

from pipelines.datasets import kitti, middlebury_stereo


@pytest.mark.parametrize("scene, size, lo, hi", [("tsukuba", (288, 384), 5.0, 14.0),
                                                 ("teddy", (375, 450), 12.5, 52.75)])
def test_middlebury_pair_matches_its_documented_ranges(dataset, scene, size, lo, hi):
    p = middlebury_stereo.load_pair(dataset("middlebury_stereo_v2"), scene)
    assert p.left.shape == p.right.shape == size + (3,) and p.left.dtype == np.uint8
    assert np.nanmin(p.disparity) == lo and np.nanmax(p.disparity) == hi
    for name, mask in p.masks.items():
        assert mask.shape == size and np.isfinite(p.disparity[mask]).all(), name
    assert p.masks["nonocc"].sum() < p.masks["all"].sum()
    # the ground truth explains the pair: warping right by it matches left (SOURCE.md: 20.8 -> 2.9
    # mean grey error on tsukuba)
    ys, xs = np.nonzero(p.masks["nonocc"])
    xr = np.round(xs - p.disparity[ys, xs]).astype(int)
    ok = xr >= 0
    g = p.left.mean(axis=2), p.right.mean(axis=2)
    assert np.abs(g[0][ys[ok], xs[ok]] - g[1][ys[ok], xr[ok]]).mean() < 6


def test_middlebury_unknown_scene():
    with pytest.raises(ValueError, match="scene: expected one of"):
        middlebury_stereo.load_pair(".", "cones")


def test_kitti_stereo_frame(dataset):
    f = kitti.load_stereo_frame(dataset("kitti2012_stereo_sample"))
    assert f.left.shape == f.right.shape == (376, 1241)
    assert f.masks["noc"].sum() == 134275 and f.masks["occ"].sum() == 137213
    assert f.focal == pytest.approx(718.856) and f.baseline == pytest.approx(0.5372, abs=1e-4)
    assert np.nanmin(f.disparity) > 4.5 and np.nanmax(f.disparity) == pytest.approx(147.0, abs=0.1)
    c = kitti.load_stereo_frame(dataset("kitti2012_stereo_sample"), color=True)
    assert c.left.shape == (376, 1241, 3)


def test_kitti_flow_pair(dataset):
    im1, im2, flow = kitti.load_flow_pair(dataset("kitti2012_flow_sample"))
    assert im1.shape == im2.shape == flow.shape[:2] == (370, 1226)
    assert np.isfinite(flow[..., 0]).sum() == 113202
    assert np.nanmax(np.abs(flow)) < 124
