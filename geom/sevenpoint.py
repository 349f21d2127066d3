"""Fundamental matrices through exactly seven correspondences (the minimal F solver): `det = 0`
on the two-dimensional null space of the Hartley-normalised constraints is a cubic. Conventions
as in `geom.epipolar`; robust estimators call the kernel `_seven_point`.
"""
import numpy as np
from numba import njit

from . import _checks
from ._linalg import _cubic_roots, _det3, _next_eigenvalue_vanishes, _smallest_eigenvectors
from .eightpoint import _OK, _RANK, _denormalize, _design, _raise_status, _scratch


def seven_point(x1, x2):
    """Fundamental matrices through exactly 7 correspondences.

    x1, x2: (7, 2) pixels. Returns (k, 3, 3) with k in 1..3: the real solutions of
    det(a F1 + (1 - a) F2) = 0 on the 2-dimensional null space, rank 2, unit Frobenius norm.
    Raises ValueError on coincident or collinear points or a rank-deficient design.
    """
    x1, x2 = _checks.point_pairs(x1, x2, 7)
    if x1.shape[0] != 7:
        raise ValueError(f"x1: expected exactly 7 points, got {x1.shape[0]}")
    _raise_status(_design(x1, x2, np.ones(7), _scratch(7, 2))[0], 7)
    out = np.empty((3, 3, 3))
    k = _seven_point(x1, x2, out)
    _raise_status(_RANK if k == 0 else _OK, 7)
    return out[:k].copy()


# ---------------------------------------------------------------------------- kernels

@njit(cache=True)
def _seven_point(x1, x2, out):
    """Seven-point F candidates from contiguous float64 `x1`, `x2` (7, 2).

    Writes k in 1..3 unit-norm rank-2 candidates into `out` (3, 3, 3) and returns k; returns 0
    (nothing written) when the sample is degenerate (coincident or collinear points, a null
    space of dimension > 2). No validation."""
    s = _scratch(7, 2)
    status, t1, t2 = _design(x1, x2, np.ones(7), s)
    if status:
        return 0
    _smallest_eigenvectors(s.M, s)
    if _next_eigenvalue_vanishes(s.M, s):
        return 0
    X = s.X
    F1 = np.empty((3, 3))
    F2 = np.empty((3, 3))
    D = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            F1[i, j] = X[0, 3 * i + j]
            F2[i, j] = X[1, 3 * i + j]
            D[i, j] = F1[i, j] - F2[i, j]
    # det(F2 + a D) = c3 a^3 + c2 a^2 + c1 a + c0, from its values at a = 0, 1, -1 and c3 = det D.
    G = np.empty((3, 3))
    fa = np.empty(2)
    for k in range(2):
        sgn = 1.0 - 2.0 * k
        for i in range(3):
            for j in range(3):
                G[i, j] = F2[i, j] + sgn * D[i, j]
        fa[k] = _det3(G)
    c0 = _det3(F2)
    c3 = _det3(D)
    c2 = 0.5 * (fa[0] + fa[1]) - c0
    c1 = 0.5 * (fa[0] - fa[1]) - c3
    roots = np.empty(3)
    scale = max(abs(c0), abs(c1), abs(c2), abs(c3))
    k = 0
    if abs(c3) > 1e-10 * scale:
        n = _cubic_roots(c3, c2, c1, c0, roots)
    else:
        # The cubic degenerates: D itself (a -> infinity) is singular, plus a quadratic's roots.
        out[0] = D
        _denormalize(out[0], t1, t2)
        k = 1
        n = 0
        if abs(c2) > 1e-10 * scale:
            disc = c1 * c1 - 4.0 * c2 * c0
            if disc >= 0.0:
                sq = np.sqrt(disc)
                roots[0] = (-c1 + sq) / (2.0 * c2)
                roots[1] = (-c1 - sq) / (2.0 * c2)
                n = 2
        elif abs(c1) > 1e-10 * scale:
            roots[0] = -c0 / c1
            n = 1
    for r in range(n):
        for i in range(3):
            for j in range(3):
                out[k, i, j] = F2[i, j] + roots[r] * D[i, j]
        _denormalize(out[k], t1, t2)
        k += 1
    return k
