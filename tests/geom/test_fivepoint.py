import numpy as np
import pytest
from hypothesis import given

from geom.camera import normalize_points
from geom.fivepoint import _ROOTS_WORK_SIZE, _real_roots, essential_five_point
from geom.testing import assert_essential, seeds, two_view_problems


@given(two_view_problems(n_points=5))
def test_candidates_are_essential_fit_the_points_and_include_the_truth(p):
    q1, q2 = normalize_points(p.x1, p.K1), normalize_points(p.x2, p.K2)
    Es = essential_five_point(q1, q2)
    assert 1 <= len(Es) <= 10
    h1, h2 = np.c_[q1, np.ones(5)], np.c_[q2, np.ones(5)]
    for E in Es:
        assert_essential(E, rtol=1e-6)
        assert np.abs(np.einsum("ni,ij,nj->n", h2, E, h1)).max() < 1e-9
    errors = [min(np.abs(E - p.E).max(), np.abs(E + p.E).max()) for E in Es]
    assert min(errors) < 1e-5, errors


@given(seeds())
def test_sturm_roots_match_the_companion_matrix(seed):
    rng = np.random.default_rng(seed)
    true = np.sort(rng.uniform(-5, 5, size=rng.integers(1, 7)))
    c = np.poly(true)                              # real roots ...
    c = np.polymul(c, [1.0, 0.0, rng.uniform(0.5, 2)])  # ... times a factor with complex ones
    roots = np.empty(10)
    n = _real_roots(c[::-1].copy(), roots, np.empty(_ROOTS_WORK_SIZE))  # increasing powers
    found = np.sort(roots[:n])
    # distinct roots closer than the isolation tolerance may merge; otherwise all are found
    if np.diff(true).min(initial=1.0) > 1e-3:
        np.testing.assert_allclose(found, true, atol=1e-7)


def test_bad_input():
    q = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(ValueError, match="q1: need at least 5 points"):
        essential_five_point(q[:4], q[:4])
    with pytest.raises(ValueError, match="exactly 5"):
        essential_five_point(np.r_[q, q][:6], np.r_[q, q][:6])
    bad = q.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="q2: contains NaN"):
        essential_five_point(q, bad)
    with pytest.raises(ValueError, match="degenerate"):
        essential_five_point(np.zeros((5, 2)), np.zeros((5, 2)))
