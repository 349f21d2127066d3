import cv2
import numpy as np
import pytest

from pipelines.datasets.flow import kitti_pairs, middlebury_pairs, read_flo, read_kitti_flow


def _warp_error(img1, img2, flow, valid):
    """Mean absolute grey difference on valid pixels, before and after warping img2 by flow."""
    g1, g2 = (i.mean(-1) if i.ndim == 3 else i.astype(np.float32) for i in (img1, img2))
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(g2.astype(np.float32), xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR)
    return np.abs(g2 - g1)[valid].mean(), np.abs(warped - g1)[valid].mean()


def test_middlebury_ground_truth_aligns_the_frames(dataset):
    pairs = middlebury_pairs(dataset("middlebury_flow"))
    assert [p[0] for p in pairs] == ["Dimetrodon", "RubberWhale"]
    for name, img1, img2, flow, valid in pairs:
        assert img1.shape == (388, 584, 3) and img1.dtype == np.uint8 and flow.shape == (388, 584, 2)
        assert 0.9 < valid.mean() < 1 and (flow[~valid] == 0).all()
        before, after = _warp_error(img1, img2, flow, valid)
        assert after < 0.4 * before, name


def test_kitti_ground_truth(dataset):
    (name, img1, img2, flow, valid), = kitti_pairs(dataset("kitti2012_flow_sample"))
    assert name == "000010" and img1.shape == (370, 1226) and flow.shape == (370, 1226, 2)
    assert valid.sum() == 113202  # the count SOURCE.md gives
    assert 100 < np.abs(flow[valid]).max() < 130
    before, after = _warp_error(img1, img2, flow, valid)
    assert after < 0.5 * before


def test_readers_reject_other_files(tmp_path):
    bad = tmp_path / "x.flo"
    np.array([1.0, 2.0], np.float32).tofile(bad)
    with pytest.raises(ValueError, match="not a .flo file"):
        read_flo(bad)
    trunc = tmp_path / "t.flo"
    header = np.array([202021.25], np.float32).view(np.int32)
    np.concatenate([header, [4, 4], np.zeros(5, np.int32)]).astype(np.int32).tofile(trunc)
    with pytest.raises(ValueError, match="truncated"):
        read_flo(trunc)
    png = tmp_path / "f.png"
    cv2.imwrite(str(png), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="16-bit PNG"):
        read_kitti_flow(png)
