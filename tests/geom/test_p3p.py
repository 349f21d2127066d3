import numpy as np
import pytest
from hypothesis import given

from geom.p3p import p3p
from geom.rotation import random_rotation
from geom.testing import assert_rotation, seeds


def _problem(seed):
    rng = np.random.default_rng(seed)
    R, t = random_rotation(rng), rng.normal(size=3)
    Xc = rng.normal(size=(3, 3)) * [1.0, 1.0, 0.5] + [0.0, 0.0, 4.0]
    return R, t, (Xc - t) @ R, Xc[:, :2] / Xc[:, 2:]


@given(seeds())
def test_candidates_include_the_truth_and_reproject(seed):
    R, t, X, q = _problem(seed)
    Rs, ts = p3p(X, q)
    assert 1 <= len(Rs) <= 4
    for Ri, ti in zip(Rs, ts):
        assert_rotation(Ri, atol=1e-9)
        Xc = X @ Ri.T + ti
        assert (Xc[:, 2] > 0).all()
        np.testing.assert_allclose(Xc[:, :2] / Xc[:, 2:], q, atol=1e-6)
    err = [np.abs(Ri - R).max() + np.abs(ti - t).max() for Ri, ti in zip(Rs, ts)]
    assert min(err) < 1e-5, err


def test_bad_input():
    R, t, X, q = _problem(0)
    with pytest.raises(ValueError, match="X: need at least 3 points"):
        p3p(X[:2], q[:2])
    with pytest.raises(ValueError, match="exactly 3"):
        p3p(np.r_[X, X], np.r_[q, q])
    with pytest.raises(ValueError, match="collinear"):
        p3p(np.outer([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]), q)
    with pytest.raises(ValueError, match="rays coincide"):
        p3p(X, np.r_[q[:1], q[:1], q[2:]])
