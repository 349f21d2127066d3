"""SIFT feature extraction: keypoints in DESIGN.md's pixel convention."""
import cv2
import numpy as np
import pytest
from scipy.spatial import cKDTree

from pipelines.features import extract_features


@pytest.mark.parametrize("axis", [0, 1])
def test_keypoints_of_a_mirrored_image_mirror_exactly(axis):
    """With the origin at the centre of the top-left pixel, a blob at x in an image of width W
    is at W - 1 - x in its mirror image (OpenCV's default SIFT is off by 2 x 0.25 px here)."""
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.random((240, 320)).astype(np.float32), (0, 0), 2.5)
    grey = cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    img = np.repeat(grey[..., None], 3, axis=2)
    mirrored = np.ascontiguousarray(img[::-1] if axis == 0 else img[:, ::-1])
    a, b = extract_features(img).keypoints, extract_features(mirrored).keypoints
    c = 1 - axis  # the mirrored coordinate: y for axis 0, x for axis 1
    back = b.copy()
    back[:, c] = img.shape[axis] - 1 - b[:, c]  # b's keypoints mirrored back onto img
    dist, nearest = cKDTree(back).query(a)
    close = dist < 1
    assert close.sum() > 100
    offset = a[close] - back[nearest[close]]
    assert np.all(np.abs(np.median(offset, axis=0)) < 0.05)
