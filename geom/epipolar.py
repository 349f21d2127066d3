"""Epipolar geometry: fundamental and essential matrices, their estimation, poses and errors.

Conventions (see DESIGN.md): pixels `(N, 2)` float64, x right, y down, origin at the centre of
the top-left pixel. A relative pose `(R, t)` maps camera-1 to camera-2 coordinates,
`X2 = R X1 + t`; `E = [t]x R`, `F = K2^-T E K1^-1`, and corresponding pixels satisfy
`x2^T F x1 = 0` (homogeneous `x = (x, y, 1)`). Estimated and converted F and E have unit
Frobenius norm (their scale and sign are meaningless); `essential_from_pose` keeps `|E| = sqrt(2)|t|`.

The public functions validate their input and raise `ValueError` on bad or degenerate data.
The private kernels `_eight_point`, `_seven_point` and `_sampson` do no validation; robust
estimators call them directly on samples.
"""
import numpy as np
from numba import njit, prange

from . import _checks
from .camera import Camera, relative_pose

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
# Relative size below which an eigenvalue of the normalised A^T A (a squared singular value of
# the design matrix) or of a point covariance counts as zero.
_DEGENERATE_EIG = 1e-12


# ---------------------------------------------------------------------------- kernels

@njit(cache=True)
def _normalizer(x, w, T):
    """Hartley normalisation of points `x` (N, 2) with weights `w` (N,): writes the similarity
    `T` (3, 3) that moves the weighted centroid to the origin and the mean distance to sqrt(2).
    Returns 0, or 1 when the points coincide, or 2 when they are collinear."""
    n = x.shape[0]
    sw = 0.0
    cx = 0.0
    cy = 0.0
    for i in range(n):
        sw += w[i]
        cx += w[i] * x[i, 0]
        cy += w[i] * x[i, 1]
    cx /= sw
    cy /= sw
    md = 0.0
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for i in range(n):
        dx = x[i, 0] - cx
        dy = x[i, 1] - cy
        md += w[i] * np.sqrt(dx * dx + dy * dy)
        sxx += w[i] * dx * dx
        syy += w[i] * dy * dy
        sxy += w[i] * dx * dy
    md /= sw
    scale = max(abs(cx), abs(cy), 1.0)
    if md <= 1e-12 * scale:
        return 1
    # Smallest eigenvalue of the 2x2 covariance relative to the trace: zero for collinear points.
    tr = sxx + syy
    det = sxx * syy - sxy * sxy
    if det <= _DEGENERATE_EIG * tr * tr:
        return 2
    s = np.sqrt(2.0) / md
    T[0, 0] = s
    T[0, 1] = 0.0
    T[0, 2] = -s * cx
    T[1, 0] = 0.0
    T[1, 1] = s
    T[1, 2] = -s * cy
    T[2, 0] = 0.0
    T[2, 1] = 0.0
    T[2, 2] = 1.0
    return 0


@njit(cache=True)
def _normal_matrix(x1, x2, w, T1, T2):
    """A^T W A (9, 9) of the epipolar design matrix of the normalised points, whose rows are
    `kron(T2 x2, T1 x1)` so that `A f = 0` for `f = F.ravel()` (row-major)."""
    M = np.zeros((9, 9))
    r = np.empty(9)
    s1, a1, b1 = T1[0, 0], T1[0, 2], T1[1, 2]
    s2, a2, b2 = T2[0, 0], T2[0, 2], T2[1, 2]
    for i in range(x1.shape[0]):
        u1 = s1 * x1[i, 0] + a1
        v1 = s1 * x1[i, 1] + b1
        u2 = s2 * x2[i, 0] + a2
        v2 = s2 * x2[i, 1] + b2
        r[0] = u2 * u1
        r[1] = u2 * v1
        r[2] = u2
        r[3] = v2 * u1
        r[4] = v2 * v1
        r[5] = v2
        r[6] = u1
        r[7] = v1
        r[8] = 1.0
        wi = w[i]
        for a in range(9):
            ra = wi * r[a]
            for b in range(a, 9):
                M[a, b] += ra * r[b]
    for a in range(9):
        for b in range(a):
            M[a, b] = M[b, a]
    return M


@njit(cache=True)
def _denormalize(Fn, T1, T2, F):
    """F = T2^T Fn T1, scaled to unit Frobenius norm."""
    tmp = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            acc = 0.0
            for k in range(3):
                acc += Fn[i, k] * T1[k, j]
            tmp[i, j] = acc
    nrm = 0.0
    for i in range(3):
        for j in range(3):
            acc = 0.0
            for k in range(3):
                acc += T2[k, i] * tmp[k, j]
            F[i, j] = acc
            nrm += acc * acc
    nrm = np.sqrt(nrm)
    for i in range(3):
        for j in range(3):
            F[i, j] /= nrm


@njit(cache=True)
def _rank2(F):
    """Closest rank-2 matrix (Frobenius) to `F` (3, 3), in place."""
    u, s, vt = np.linalg.svd(F)
    for i in range(3):
        for j in range(3):
            F[i, j] = u[i, 0] * s[0] * vt[0, j] + u[i, 1] * s[1] * vt[1, j]


@njit(cache=True)
def _eight_point_into(x1, x2, w, F):
    """Weighted normalised eight-point solve into `F` (3, 3); returns a status code (0 = ok)."""
    T1 = np.empty((3, 3))
    T2 = np.empty((3, 3))
    status = _normalizer(x1, w, T1)
    if status:
        return status
    status = _normalizer(x2, w, T2)
    if status:
        return status + 1
    M = _normal_matrix(x1, x2, w, T1, T2)
    evals, evecs = np.linalg.eigh(M)
    if evals[1] <= _DEGENERATE_EIG * evals[8]:
        return _RANK
    Fn = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            Fn[i, j] = evecs[3 * i + j, 0]
    _rank2(Fn)
    _denormalize(Fn, T1, T2, F)
    return _OK


@njit(cache=True)
def _eight_point(x1, x2):
    """Normalised eight-point F (3, 3) from contiguous float64 `x1`, `x2` (N, 2), N >= 8.

    No validation: a degenerate input (coincident or collinear points, rank-deficient design)
    gives an F full of NaN."""
    F = np.empty((3, 3))
    if _eight_point_into(x1, x2, np.ones(x1.shape[0]), F):
        F[:] = np.nan
    return F


@njit(cache=True, parallel=True)
def _eight_point_batch(x1s, x2s, Fs, status):
    w = np.ones(x1s.shape[1])
    for b in prange(x1s.shape[0]):
        status[b] = _eight_point_into(x1s[b], x2s[b], w, Fs[b])


@njit(cache=True)
def _det3(A):
    return (A[0, 0] * (A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1])
            - A[0, 1] * (A[1, 0] * A[2, 2] - A[1, 2] * A[2, 0])
            + A[0, 2] * (A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0]))


@njit(cache=True)
def _cubic_roots(c3, c2, c1, c0, roots):
    """Real roots of `c3 a^3 + c2 a^2 + c1 a + c0` into `roots` (3,); returns their count.
    Assumes c3 != 0. Closed form, then two Newton steps each."""
    b = c2 / c3
    c = c1 / c3
    d = c0 / c3
    # Depressed cubic y^3 + p y + q with a = y - b/3.
    p = c - b * b / 3.0
    q = 2.0 * b * b * b / 27.0 - b * c / 3.0 + d
    disc = q * q / 4.0 + p * p * p / 27.0
    if disc > 0.0:
        sq = np.sqrt(disc)
        roots[0] = np.cbrt(-q / 2.0 + sq) + np.cbrt(-q / 2.0 - sq) - b / 3.0
        n = 1
    elif p == 0.0:
        roots[0] = -b / 3.0
        n = 1
    else:
        m = 2.0 * np.sqrt(-p / 3.0)
        arg = 3.0 * q / (p * m)
        arg = min(1.0, max(-1.0, arg))
        theta = np.arccos(arg) / 3.0
        for k in range(3):
            roots[k] = m * np.cos(theta - 2.0 * np.pi * k / 3.0) - b / 3.0
        n = 3
    for k in range(n):
        a = roots[k]
        for _ in range(2):
            f = ((a + b) * a + c) * a + d
            df = (3.0 * a + 2.0 * b) * a + c
            if df != 0.0:
                a -= f / df
        roots[k] = a
    return n


@njit(cache=True)
def _seven_point(x1, x2, out):
    """Seven-point F candidates from exactly-seven-row contiguous float64 `x1`, `x2` (7, 2).

    Writes k in 1..3 unit-norm rank-2 candidates into `out` (3, 3, 3) and returns k; returns 0
    (nothing written) when the sample is degenerate. No validation. More than 7 rows are used
    in a least-squares sense for the 2-dimensional null space."""
    w = np.ones(x1.shape[0])
    T1 = np.empty((3, 3))
    T2 = np.empty((3, 3))
    if _normalizer(x1, w, T1) or _normalizer(x2, w, T2):
        return 0
    M = _normal_matrix(x1, x2, w, T1, T2)
    evals, evecs = np.linalg.eigh(M)
    if evals[2] <= _DEGENERATE_EIG * evals[8]:
        return 0
    F1 = np.empty((3, 3))
    F2 = np.empty((3, 3))
    D = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            F1[i, j] = evecs[3 * i + j, 0]
            F2[i, j] = evecs[3 * i + j, 1]
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
        _denormalize(D, T1, T2, out[0])
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
                G[i, j] = F2[i, j] + roots[r] * D[i, j]
        _denormalize(G, T1, T2, out[k])
        k += 1
    return k


@njit(cache=True)
def _sampson(F, x1, x2, out):
    """Sampson distances (N,) in pixels (not squared) of correspondences `x1`, `x2` (N, 2)
    under `F` (3, 3) into `out`. No validation."""
    for i in range(x1.shape[0]):
        u1 = x1[i, 0]
        v1 = x1[i, 1]
        u2 = x2[i, 0]
        v2 = x2[i, 1]
        a = F[0, 0] * u1 + F[0, 1] * v1 + F[0, 2]
        b = F[1, 0] * u1 + F[1, 1] * v1 + F[1, 2]
        c = F[2, 0] * u1 + F[2, 1] * v1 + F[2, 2]
        d = F[0, 0] * u2 + F[1, 0] * v2 + F[2, 0]
        e = F[0, 1] * u2 + F[1, 1] * v2 + F[2, 1]
        r = u2 * a + v2 * b + c
        g = a * a + b * b + d * d + e * e
        out[i] = abs(r) / np.sqrt(g) if g > 0.0 else np.inf
