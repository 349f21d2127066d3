import numpy as np
import pytest

from geom.eightpoint import eight_point
from geom.epipolar import sampson_distance
from pipelines.datasets import adelaidermf


def test_sequences_hold_pixels_and_labelled_rigid_motions(dataset):
    folder = dataset("adelaidermf")
    names = adelaidermf.sequence_names(folder, "fundamental")
    assert len(names) == 12 and "biscuitbook" in names
    assert len(adelaidermf.sequence_names(folder, "homography")) == 5
    s = adelaidermf.load_sequence(folder, "fundamental", "biscuitbook")
    assert s.x1.shape == s.x2.shape == (341, 2) and s.x1.flags.c_contiguous
    assert s.n_models == 2 and set(np.unique(s.labels)) == {0, 1, 2}
    # pixels of a 640 x 480 image, and each labelled structure one rigid motion
    assert 0 <= s.x1.min() and s.x1[:, 0].max() < 640 and s.x1[:, 1].max() < 480
    for k in (1, 2):
        mine = s.labels == k
        F = eight_point(s.x1[mine], s.x2[mine])
        assert np.median(sampson_distance(F, s.x1[mine], s.x2[mine])) < 1.0


def test_bad_names(dataset):
    folder = dataset("adelaidermf")
    with pytest.raises(ValueError, match="kind: expected one of"):
        adelaidermf.sequence_names(folder, "affine")
    with pytest.raises(FileNotFoundError, match="no such AdelaideRMF sequence"):
        adelaidermf.load_sequence(folder, "homography", "biscuitbook")
