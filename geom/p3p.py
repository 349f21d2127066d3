"""Perspective-three-point: camera poses that see three known 3D points at three known rays.

Grunert's solution (as reviewed by Haralick et al., IJCV 1994): with unit rays j1, j2, j3, the
distances s_i along them satisfy the three cosine-law equations; writing s2 = u s1, s3 = v s1
eliminates to a quartic in v. Each real positive root gives the three camera-frame points, and
the pose follows from the absolute orientation (Kabsch) of three point pairs.

Convention (DESIGN.md): `x_cam = R X + t`; normalised image coordinates `q = K^-1 x`.
"""
import numpy as np
from numba import njit

from . import _checks


def p3p(X, q):
    """All poses (at most four) placing the world points X (3, 3) on the rays of the normalised
    image points q (3, 2) (`K^-1 x`), in front of the camera.

    Returns Rs (k, 3, 3) and ts (k, 3) with `q_i ~ R X_i + t`. Raises ValueError for a
    degenerate configuration (coincident or collinear world points, or coincident rays).
    """
    X = _checks.points(X, "X", dim=3, min_count=3)
    q = _checks.points(q, "q", dim=2, min_count=3)
    if X.shape[0] != 3 or q.shape[0] != 3:
        raise ValueError(f"X, q: expected exactly 3 points each, got {X.shape[0]} and {q.shape[0]}")
    if np.linalg.norm(np.cross(X[1] - X[0], X[2] - X[0])) <= 1e-12 * max(np.abs(X).max(), 1.0) ** 2:
        raise ValueError("X: the three world points are collinear or coincident")
    Rs = np.empty((4, 3, 3))
    ts = np.empty((4, 3))
    k = _p3p(X, q, Rs, ts)
    if k < 0:
        raise ValueError("q: two of the three rays coincide")
    return Rs[:k].copy(), ts[:k].copy()


# ---------------------------------------------------------------------------- kernels

@njit(cache=True)
def _real_roots_quartic(c, roots):
    """Real roots of c[0] v^4 + ... + c[4] into roots (4,) (companion-matrix eigenvalues, then
    Newton polishing); returns their number."""
    lead = c[0]
    scale = max(abs(c[0]), abs(c[1]), abs(c[2]), abs(c[3]), abs(c[4]))
    if abs(lead) <= 1e-14 * scale:
        return 0
    A = np.zeros((4, 4), dtype=np.complex128)
    for j in range(4):
        A[0, j] = -c[j + 1] / lead
    for i in range(1, 4):
        A[i, i - 1] = 1.0
    w = np.linalg.eigvals(A)
    n = 0
    for i in range(4):
        if abs(w[i].imag) > 1e-6 * (1.0 + abs(w[i].real)):
            continue
        v = w[i].real
        for _ in range(2):
            f = (((c[0] * v + c[1]) * v + c[2]) * v + c[3]) * v + c[4]
            df = ((4.0 * c[0] * v + 3.0 * c[1]) * v + 2.0 * c[2]) * v + c[3]
            if df != 0.0:
                v -= f / df
        roots[n] = v
        n += 1
    return n


@njit(cache=True)
def _absolute_orientation(P, C, R, t):
    """R, t minimising sum |C_i - (R P_i + t)|^2 over point pairs P, C (n, 3) (Kabsch/Umeyama,
    no scale)."""
    n = P.shape[0]
    pc = np.zeros(3)
    cc = np.zeros(3)
    for i in range(n):
        pc += P[i]
        cc += C[i]
    pc /= n
    cc /= n
    S = np.zeros((3, 3))
    for i in range(n):
        for a in range(3):
            for b in range(3):
                S[a, b] += (C[i, a] - cc[a]) * (P[i, b] - pc[b])
    U, _, Vt = np.linalg.svd(S)
    d = np.linalg.det(U @ Vt)
    D = np.eye(3)
    D[2, 2] = 1.0 if d > 0 else -1.0
    R[:] = U @ D @ Vt
    t[:] = cc - R @ pc


@njit(cache=True)
def _p3p(X, q, Rs, ts):
    """Poses from three world points X (3, 3) and normalised image points q (3, 2) into Rs
    (4, 3, 3), ts (4, 3). Returns their number, or -1 when two rays coincide. No validation."""
    j = np.empty((3, 3))
    for i in range(3):
        nrm = np.sqrt(q[i, 0] ** 2 + q[i, 1] ** 2 + 1.0)
        j[i, 0] = q[i, 0] / nrm
        j[i, 1] = q[i, 1] / nrm
        j[i, 2] = 1.0 / nrm
    ca = j[1, 0] * j[2, 0] + j[1, 1] * j[2, 1] + j[1, 2] * j[2, 2]
    cb = j[0, 0] * j[2, 0] + j[0, 1] * j[2, 1] + j[0, 2] * j[2, 2]
    cg = j[0, 0] * j[1, 0] + j[0, 1] * j[1, 1] + j[0, 2] * j[1, 2]
    if max(ca, cb, cg) > 1.0 - 1e-14:
        return -1
    a2 = np.sum((X[1] - X[2]) ** 2)
    b2 = np.sum((X[0] - X[2]) ** 2)
    c2 = np.sum((X[0] - X[1]) ** 2)
    if b2 == 0.0:
        return 0
    amc = (a2 - c2) / b2
    apc = (a2 + c2) / b2
    c = np.empty(5)
    c[0] = (amc - 1.0) ** 2 - 4.0 * c2 / b2 * ca * ca
    c[1] = 4.0 * (amc * (1.0 - amc) * cb - (1.0 - apc) * ca * cg + 2.0 * c2 / b2 * ca * ca * cb)
    c[2] = 2.0 * (amc * amc - 1.0 + 2.0 * amc * amc * cb * cb + 2.0 * (b2 - c2) / b2 * ca * ca
                  - 4.0 * apc * ca * cb * cg + 2.0 * (b2 - a2) / b2 * cg * cg)
    c[3] = 4.0 * (-amc * (1.0 + amc) * cb + 2.0 * a2 / b2 * cg * cg * cb - (1.0 - apc) * ca * cg)
    c[4] = (1.0 + amc) ** 2 - 4.0 * a2 / b2 * cg * cg
    roots = np.empty(4)
    nroots = _real_roots_quartic(c, roots)
    C = np.empty((3, 3))
    k = 0
    for r in range(nroots):
        v = roots[r]
        den = 2.0 * (cg - v * ca)
        s1sq = 1.0 + v * v - 2.0 * v * cb
        if v <= 0.0 or den == 0.0 or s1sq <= 0.0:
            continue
        u = ((amc - 1.0) * v * v - 2.0 * amc * cb * v + 1.0 + amc) / den
        if u <= 0.0:
            continue
        s1 = np.sqrt(b2 / s1sq)
        for a in range(3):
            C[0, a] = s1 * j[0, a]
            C[1, a] = u * s1 * j[1, a]
            C[2, a] = v * s1 * j[2, a]
        _absolute_orientation(X, C, Rs[k], ts[k])
        k += 1
    return k
