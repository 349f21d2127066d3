import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geom import _linalg as la
from geom.eightpoint import _scratch
from geom.testing import seeds


def psd_matrix(seed, smallest):
    """A PSD 9x9 matrix with the given smallest eigenvalues and the rest in [0.1, 10]."""
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.normal(size=(9, 9)))[0]
    lam = np.r_[smallest, rng.uniform(0.1, 10, 9 - len(smallest))]
    M = (V * lam) @ V.T
    return (M + M.T) / 2


@given(seeds(), st.sampled_from([1, 2]), st.floats(1e-6, 1.0), st.booleans())
def test_smallest_eigenvectors_match_lapack(seed, m, gap, zero):
    """The eigen-solver under the estimators, on spectra with an exact zero or with clustered
    small eigenvalues (slow subspace convergence, where the dense fallback takes over)."""
    M = psd_matrix(seed, [0.0 if zero else 0.01, 0.01 * (1 + gap), 0.01 * (1 + 2 * gap)])
    s = _scratch(0, m)
    la._smallest_eigenvectors(M, s)
    X, theta = s.X, s.theta
    np.testing.assert_allclose(theta, np.linalg.eigvalsh(M)[:m], atol=1e-12)
    np.testing.assert_allclose(X @ X.T, np.eye(m), atol=1e-12)
    assert np.abs(X @ M - theta[:, None] * X).max() < 1e-11


def test_subspace_iteration_gives_up_on_clustered_eigenvalues():
    M = psd_matrix(0, [0.01, 0.01 * (1 + 1e-6), 0.01 * (1 + 2e-6)])
    s = _scratch(0, 1)
    assert not la._subspace_iteration(M, s)
    assert la._subspace_iteration(psd_matrix(0, [0.0, 0.01, 0.02]), s)


@pytest.mark.parametrize("m, smallest, vanishes", [
    (1, [0.0, 0.02], False),
    (1, [0.0, 0.0], True),
    (1, [1e-3, 1e-3 * (1 + 1e-7)], False),  # clustered but not null: the dense fallback
    (2, [0.0, 0.0, 0.02], False),
    (2, [0.0, 0.0, 0.0], True),
    (2, [0.0, 1e-14, 1e-13], True),
])
def test_next_eigenvalue_vanishes_detects_a_larger_null_space(m, smallest, vanishes):
    M = psd_matrix(1, smallest)
    s = _scratch(0, m)
    la._smallest_eigenvectors(M, s)
    assert la._next_eigenvalue_vanishes(M, s) == vanishes
    assert (np.linalg.eigvalsh(M)[m] <= la._DEGENERATE_EIG * np.trace(M)) == vanishes


@given(seeds(), st.sampled_from([2, 3, 9]))
def test_jacobi_eigh_matches_lapack(seed, n):
    A = np.random.default_rng(seed).normal(size=(n, n))
    A = A + A.T
    D, V = A.copy(), np.empty((n, n))
    la._jacobi_eigh(D, V)
    np.testing.assert_allclose(np.sort(np.diag(D)), np.linalg.eigvalsh(A), atol=1e-12)
    np.testing.assert_allclose(V.T @ V, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(A @ V, V * np.diag(D), atol=1e-11)
