"""Fundamental matrix from N >= 8 correspondences: the normalised eight-point algorithm.

Conventions as in `geom.epipolar` (`x2^T F x1 = 0`; F of rank 2 and unit Frobenius norm). The
Hartley-normalised normal matrix, its degeneracy tests and the denormalisation are shared with
`geom.sevenpoint`; robust estimators call the kernels `_eight_point_into` and `_eight_point`.
"""
from collections import namedtuple

import numpy as np
from numba import njit, prange

from . import _checks
from ._linalg import (_DEGENERATE_EIG, _det3, _jacobi_eigh, _next_eigenvalue_vanishes,
                      _normalizer, _smallest_eigenvectors)

# Kernel status codes (0 = success) and what they mean for the public functions.
_OK, _COINCIDENT1, _COINCIDENT2, _COLLINEAR1, _COLLINEAR2, _RANK = 0, 1, 2, 3, 4, 5
_STATUS_MESSAGES = {
    _COINCIDENT1: "x1: all points coincide",
    _COINCIDENT2: "x2: all points coincide",
    _COLLINEAR1: "x1: all points are collinear (degenerate for F)",
    _COLLINEAR2: "x2: all points are collinear (degenerate for F)",
    _RANK: ("x1, x2: degenerate configuration (the design matrix has a null space of dimension > {}:"
            " too few distinct correspondences, duplicate points, or a planar scene)"),
}
# Index of the monomial c_i c_k among (u^2, u v, u, v^2, v, 1) for c = (u, v, 1).
_MONOMIAL = np.array([[0, 1, 2], [1, 3, 4], [2, 4, 5]])
# Problems per scratch allocation in `_eight_point_batch`.
_BATCH_CHUNK = 64


def eight_point(x1, x2, weights=None):
    """Fundamental matrix from N >= 8 correspondences by the normalised eight-point algorithm.

    x1, x2: (N, 2) pixels in images 1 and 2. weights: optional (N,) non-negative weights of the
    correspondences (a weighted least-squares fit, e.g. for RANSAC refits), at least 8 positive.
    Returns F (3, 3): rank 2, unit Frobenius norm, `x2^T F x1 ~ 0` (least squares after Hartley
    normalisation). Raises ValueError on coincident or collinear points or a rank-deficient
    design (fewer than 8 distinct correspondences, a planar scene without noise).
    """
    x1, x2 = _checks.point_pairs(x1, x2, 8)
    if weights is None:
        w = np.ones(x1.shape[0])
    else:
        w = _checks.array(weights, "weights", (x1.shape[0],))
        if (w < 0).any() or np.count_nonzero(w) < 8:
            raise ValueError("weights: expected non-negative values, at least 8 of them positive")
    F = np.empty((3, 3))
    _raise_status(_eight_point_into(x1, x2, w, F, _scratch(x1.shape[0], 1)), 8)
    return F


def eight_point_batch(x1s, x2s):
    """Eight-point F for B independent problems in one numba call, parallel over the problems.

    x1s, x2s: (B, N, 2) pixels, N >= 8. Returns (B, 3, 3), each as `eight_point` would return it.
    Raises ValueError naming the first degenerate problem.
    """
    x1s = _checks.array(x1s, "x1s", (None, None, 2))
    x2s = _checks.array(x2s, "x2s", x1s.shape)
    if x1s.shape[1] < 8:
        raise ValueError(f"x1s: need at least 8 points per problem, got {x1s.shape[1]}")
    Fs = np.empty((x1s.shape[0], 3, 3))
    status = np.empty(x1s.shape[0], np.int64)
    _eight_point_batch(x1s, x2s, Fs, status)
    bad = np.flatnonzero(status)
    if bad.size:
        msg = _STATUS_MESSAGES[status[bad[0]]].format(1).replace("x1", "x1s").replace("x2", "x2s")
        raise ValueError(f"problem {bad[0]} ({bad.size} degenerate in all): {msg}")
    return Fs


def _raise_status(status, n_params):
    if status:
        raise ValueError(_STATUS_MESSAGES[status].format(9 - n_params))


# ---------------------------------------------------------------------------- kernels

# Scratch arrays of one solve, allocated once per call, or once per chunk of problems in a batch:
# P, Q (6, N) the monomials of the normalised points and QP (6, 6) their products' sums, M (9, 9)
# the normal matrix, L (9, 9) its Cholesky factor, X (m, 9) and theta (m,) the m smallest
# eigenpairs of M, Y, MY (m, 9), H, V (m, m) and order (m,) the subspace iteration's, S, U (3, 3)
# the rank-2 projection's eigen-decomposition.
_Scratch = namedtuple("_Scratch", "P Q QP M L X theta Y MY H V order S U")


@njit(cache=True)
def _scratch(n, m):
    """`_Scratch` for problems of n correspondences and m smallest eigenvectors of M."""
    return _Scratch(np.empty((6, n)), np.empty((6, n)), np.empty((6, 6)), np.empty((9, 9)),
                    np.empty((9, 9)), np.empty((m, 9)), np.empty(m), np.empty((m, 9)),
                    np.empty((m, 9)), np.empty((m, m)), np.empty((m, m)), np.empty(m, np.int64),
                    np.empty((3, 3)), np.empty((3, 3)))


@njit(cache=True)
def _collinear(M, iu, iv):
    """Whether the normalised points of one image are collinear, from the moments inside the
    normal matrix `M` (9, 9): `M[8, 8]` = sum w, `M[iu, 8]` = sum w u, `M[iu, iv]` = sum w u v
    (iu, iv = 6, 7 for image 1, 2, 5 for image 2). Collinear means the smallest eigenvalue of the
    2x2 covariance vanishes relative to its trace."""
    sw = M[8, 8]
    mu = M[iu, 8] / sw
    mv = M[iv, 8] / sw
    cuu = M[iu, iu] / sw - mu * mu
    cvv = M[iv, iv] / sw - mv * mv
    cuv = M[iu, iv] / sw - mu * mv
    tr = cuu + cvv
    return cuu * cvv - cuv * cuv <= _DEGENERATE_EIG * tr * tr


@njit(cache=True)
def _design(x1, x2, w, s):
    """Normalise both point sets and build their normal matrix into `s.M` (9, 9). Returns the
    status (0 or the code of the first degeneracy of the point sets found) and the normalisers
    (s, a, b) of images 1 and 2 (see `_normalizer`)."""
    t1 = _normalizer(x1, w)
    t2 = _normalizer(x2, w)
    if t1[0] == 0.0:
        return _COINCIDENT1, t1, t2
    if t2[0] == 0.0:
        return _COINCIDENT2, t1, t2
    _normal_matrix(x1, x2, w, t1, t2, s.P, s.Q, s.QP, s.M)
    if _collinear(s.M, 6, 7):
        return _COLLINEAR1, t1, t2
    if _collinear(s.M, 2, 5):
        return _COLLINEAR2, t1, t2
    return _OK, t1, t2


@njit(cache=True, fastmath={"reassoc", "contract"})
def _monomials(x, t, P):
    """The quadratic monomials (u^2, u v, u, v^2, v, 1) of the normalised points (u, v) = T x of
    `x` (N, 2) into the rows of `P` (6, N); t = (s, a, b) the normaliser of `_normalizer`."""
    n = x.shape[0]
    s, a, b = t
    xy = x.reshape(2 * n)
    for i in range(n):
        u = s * xy[2 * i] + a
        v = s * xy[2 * i + 1] + b
        P[0, i] = u * u
        P[1, i] = u * v
        P[2, i] = u
        P[3, i] = v * v
        P[4, i] = v
        P[5, i] = 1.0


@njit(cache=True, fastmath={"reassoc", "contract"})
def _normal_matrix(x1, x2, w, t1, t2, P, Q, QP, M):
    """A^T W A into `M` (9, 9), for the epipolar design matrix A of the normalised points, whose
    rows are `kron(T2 x2, T1 x1)` so that `A f = 0` for `f = F.ravel()` (row-major); t1, t2 are
    the normalisers (s, a, b) of `_normalizer`; P, Q (6, N), QP (6, 6) scratch.

    Every entry is a weighted sum of `q_i q_k p_j p_l` with p = T1 x1, q = T2 x2, so it is read
    from the 6x6 sums of the quadratic monomials of q (weighted) times those of p: 36 vectorised
    dot products instead of 45 scattered accumulations."""
    n = x1.shape[0]
    _monomials(x1, t1, P)
    _monomials(x2, t2, Q)
    for a in range(6):
        for i in range(n):
            Q[a, i] *= w[i]
    for a in range(6):  # six sums per pass over the points (one row of Q is loaded once)
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        s4 = 0.0
        s5 = 0.0
        for i in range(n):
            q = Q[a, i]
            s0 += q * P[0, i]
            s1 += q * P[1, i]
            s2 += q * P[2, i]
            s3 += q * P[3, i]
            s4 += q * P[4, i]
            s5 += q * P[5, i]
        QP[a, 0] = s0
        QP[a, 1] = s1
        QP[a, 2] = s2
        QP[a, 3] = s3
        QP[a, 4] = s4
        QP[a, 5] = s5
    for a in range(9):
        qi, pj = a // 3, a % 3
        for b in range(9):
            qk, pl = b // 3, b % 3
            M[a, b] = QP[_MONOMIAL[qi, qk], _MONOMIAL[pj, pl]]


@njit(cache=True)
def _denormalize(F, t1, t2):
    """F <- T2^T F T1 in place, scaled to unit Frobenius norm; t1, t2 the normalisers (s, a, b)
    of `_normalizer`, T = [[s, 0, a], [0, s, b], [0, 0, 1]]."""
    s1, a1, b1 = t1
    s2, a2, b2 = t2
    for i in range(3):  # F T1
        F[i, 2] += a1 * F[i, 0] + b1 * F[i, 1]
        F[i, 0] *= s1
        F[i, 1] *= s1
    nrm = 0.0
    for j in range(3):  # T2^T (F T1)
        F[2, j] += a2 * F[0, j] + b2 * F[1, j]
        F[0, j] *= s2
        F[1, j] *= s2
        nrm += F[0, j] * F[0, j] + F[1, j] * F[1, j] + F[2, j] * F[2, j]
    nrm = np.sqrt(nrm)
    for i in range(3):
        for j in range(3):
            F[i, j] /= nrm


@njit(cache=True, fastmath={"reassoc", "contract"})
def _rank2(F, S, V):
    """Closest rank-2 matrix (Frobenius) to `F` (3, 3), in place: F (I - v v^T) with v the right
    singular vector of the smallest singular value, i.e. the eigenvector of S = F^T F for its
    smallest eigenvalue. That eigenvalue comes in closed form (the trigonometric solution of the
    characteristic cubic) and v as the largest cross product of two rows of S - lambda I. That
    cross product is |S| |S - lambda I|-sized and loses relative accuracy when S is nearly of rank
    one or a multiple of the identity; there Jacobi on S (V (3, 3) scratch) takes over."""
    for i in range(3):
        for j in range(3):
            S[i, j] = F[0, i] * F[0, j] + F[1, i] * F[1, j] + F[2, i] * F[2, j]
    q = (S[0, 0] + S[1, 1] + S[2, 2]) / 3.0
    off = S[0, 1] * S[0, 1] + S[0, 2] * S[0, 2] + S[1, 2] * S[1, 2]
    p = np.sqrt(((S[0, 0] - q) ** 2 + (S[1, 1] - q) ** 2 + (S[2, 2] - q) ** 2 + 2.0 * off) / 6.0)
    best = 0.0
    v0 = v1 = v2 = 0.0
    if p > 1e-6 * q:
        for i in range(3):  # S - q I, scaled by 1 / p
            for j in range(3):
                V[i, j] = (S[i, j] - (q if i == j else 0.0)) / p
        r = min(max(0.5 * _det3(V), -1.0), 1.0)
        lam = q + 2.0 * p * np.cos(np.arccos(r) / 3.0 + 2.0 * np.pi / 3.0)
        for i in range(3):
            S[i, i] -= lam
        for a, b in ((0, 1), (0, 2), (1, 2)):
            c0 = S[a, 1] * S[b, 2] - S[a, 2] * S[b, 1]
            c1 = S[a, 2] * S[b, 0] - S[a, 0] * S[b, 2]
            c2 = S[a, 0] * S[b, 1] - S[a, 1] * S[b, 0]
            nrm = c0 * c0 + c1 * c1 + c2 * c2
            if nrm > best:
                best, v0, v1, v2 = nrm, c0, c1, c2
    if best <= 1e-6 * (q * q + 1e-300) ** 2:
        for i in range(3):
            for j in range(3):
                S[i, j] = F[0, i] * F[0, j] + F[1, i] * F[1, j] + F[2, i] * F[2, j]
        _jacobi_eigh(S, V)
        k = 0
        for i in range(1, 3):
            if S[i, i] < S[k, k]:
                k = i
        v0, v1, v2 = V[0, k], V[1, k], V[2, k]
    else:
        best = 1.0 / np.sqrt(best)
        v0, v1, v2 = v0 * best, v1 * best, v2 * best
    for i in range(3):
        d = F[i, 0] * v0 + F[i, 1] * v1 + F[i, 2] * v2
        F[i, 0] -= d * v0
        F[i, 1] -= d * v1
        F[i, 2] -= d * v2


@njit(cache=True)
def _eight_point_into(x1, x2, w, F, s):
    """Weighted normalised eight-point solve into `F` (3, 3), with the scratch `s` of
    `_scratch(N, 1)`; returns a status code (0 = ok)."""
    status, t1, t2 = _design(x1, x2, w, s)
    if status:
        return status
    _smallest_eigenvectors(s.M, s)
    if _next_eigenvalue_vanishes(s.M, s):
        return _RANK
    for i in range(3):
        for j in range(3):
            F[i, j] = s.X[0, 3 * i + j]
    _rank2(F, s.S, s.U)
    _denormalize(F, t1, t2)
    return _OK


@njit(cache=True)
def _eight_point(x1, x2):
    """Normalised eight-point F (3, 3) from contiguous float64 `x1`, `x2` (N, 2), N >= 8.

    No validation: a degenerate input (coincident or collinear points, rank-deficient design)
    gives an F full of NaN."""
    F = np.empty((3, 3))
    if _eight_point_into(x1, x2, np.ones(x1.shape[0]), F, _scratch(x1.shape[0], 1)):
        F[:] = np.nan
    return F


@njit(cache=True, parallel=True)
def _eight_point_batch(x1s, x2s, Fs, status):
    n_problems, n = x1s.shape[0], x1s.shape[1]
    w = np.ones(n)
    for chunk in prange((n_problems + _BATCH_CHUNK - 1) // _BATCH_CHUNK):
        s = _scratch(n, 1)
        for b in range(chunk * _BATCH_CHUNK, min(n_problems, (chunk + 1) * _BATCH_CHUNK)):
            status[b] = _eight_point_into(x1s[b], x2s[b], w, Fs[b], s)
