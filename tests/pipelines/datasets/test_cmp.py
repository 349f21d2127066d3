import numpy as np
import pytest

from geom.epipolar import sampson_distance
from pipelines.datasets import cmp

NO_REFERENCE_F = {"box", "corr", "graff", "head", "Kyoto", "rotunda", "valbonne", "wash", "zoom"}


def test_fundamental_pairs_and_their_reference_f(dataset):
    folder = dataset("cmp_kusvod2_fundamental")
    names = cmp.scenes(folder)
    assert len(names) == 15
    for name in names:
        pair = cmp.load_pair(folder, name, "fundamental")
        assert pair.image1.is_file() and pair.image2.is_file()
        assert pair.x1.shape == pair.x2.shape == (len(pair.labels), 2)
        assert set(np.unique(pair.labels)) == {0, 1}
        assert 9 <= len(pair.true_x1) <= 14
        assert (pair.model is None) == (name in NO_REFERENCE_F), name
        if pair.model is not None:
            # Converted to x2^T F x1 = 0: the true matches fit it; the file's transposed
            # convention would leave them tens of pixels off.
            assert np.median(sampson_distance(pair.model, pair.true_x1, pair.true_x2)) < 1.0
            assert np.median(sampson_distance(pair.model.T, pair.true_x1, pair.true_x2)) > 10.0


def test_homography_pairs_map_image_1_to_image_2(dataset):
    folder = dataset("cmp_homogr_homography")
    names = cmp.scenes(folder)
    assert len(names) == 12
    for name in names:
        pair = cmp.load_pair(folder, name, "homography")
        assert len(pair.true_x1) == 8
        h = np.c_[pair.true_x1, np.ones(8)] @ pair.model.T
        assert np.median(np.linalg.norm(h[:, :2] / h[:, 2:] - pair.true_x2, axis=1)) < 0.5, name


def test_bad_requests(dataset, tmp_path):
    folder = dataset("cmp_homogr_homography")
    with pytest.raises(ValueError, match="kind: expected one of"):
        cmp.load_pair(folder, "adam", "affine")
    with pytest.raises(FileNotFoundError, match="nosuch_pts.txt"):
        cmp.load_pair(folder, "nosuch", "homography")
    (tmp_path / "bad_pts.txt").write_text("1 2 1 3 4 1\n")
    with pytest.raises(ValueError, match="expected 7 columns"):
        cmp.load_pair(tmp_path, "bad", "fundamental")
