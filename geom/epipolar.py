"""Epipolar geometry: fundamental and essential matrices, their estimation, poses and errors.

Conventions (see DESIGN.md): pixels `(N, 2)` float64, x right, y down, origin at the centre of
the top-left pixel. A relative pose `(R, t)` maps camera-1 to camera-2 coordinates,
`X2 = R X1 + t`; `E = [t]x R`, `F = K2^-T E K1^-1`, and corresponding pixels satisfy
`x2^T F x1 = 0` (homogeneous `x = (x, y, 1)`). Estimated and converted F and E have unit
Frobenius norm (their scale and sign are meaningless); `essential_from_pose` keeps
`|E| = sqrt(2) |t|`.

The public functions validate their input and raise `ValueError` on bad or degenerate data.
The private kernels `_eight_point`, `_seven_point` and `_sampson` do no validation; robust
estimators call them directly on samples.
"""
from collections import namedtuple

import numpy as np
from numba import njit, prange

from . import _checks
from .camera import check_camera, normalize_points, relative_pose

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
# Index of the monomial c_i c_k among (u^2, u v, u, v^2, v, 1) for c = (u, v, 1).
_MONOMIAL = np.array([[0, 1, 2], [1, 3, 4], [2, 4, 5]])


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


@njit(cache=True, fastmath={"reassoc", "contract"})
def _normalizer(x, w):
    """Hartley normalisation of points `x` (N, 2) with weights `w` (N,): the similarity
    T = [[s, 0, a], [0, s, b], [0, 0, 1]] that moves the weighted centroid to the origin and the
    mean distance to sqrt(2), as the tuple (s, a, b); s = 0 when the points coincide."""
    n = x.shape[0]
    xy = x.reshape(2 * n)  # flat indexing vectorises, x[i, 0] with its runtime stride does not
    sw = 0.0
    cx = 0.0
    cy = 0.0
    for i in range(n):
        sw += w[i]
        cx += w[i] * xy[2 * i]
        cy += w[i] * xy[2 * i + 1]
    cx /= sw
    cy /= sw
    md = 0.0
    for i in range(n):
        dx = xy[2 * i] - cx
        dy = xy[2 * i + 1] - cy
        md += w[i] * np.sqrt(dx * dx + dy * dy)
    md /= sw
    if md <= 1e-12 * max(abs(cx), abs(cy), 1.0):
        return 0.0, 0.0, 0.0
    s = np.sqrt(2.0) / md
    return s, -s * cx, -s * cy


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


@njit(cache=True)
def _jacobi_eigh(A, V):
    """Cyclic Jacobi eigen-decomposition of a small symmetric `A` (n, n), in place: on return the
    diagonal of `A` holds the eigenvalues (unordered) and the columns of `V` (n, n) the unit
    eigenvectors. Accurate for the small eigenvalues too, which is what the null-space solves need."""
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            V[i, j] = 0.0
        V[i, i] = 1.0
    for _ in range(50):
        off = 0.0
        dia = 0.0
        for p in range(n):
            dia += A[p, p] * A[p, p]
            for q in range(p + 1, n):
                off += A[p, q] * A[p, q]
        if off <= 1e-32 * dia or off == 0.0:
            return
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = A[p, q]
                if apq == 0.0:
                    continue
                theta = (A[q, q] - A[p, p]) / (2.0 * apq)
                if abs(theta) > 1e150:
                    t = 0.5 / theta
                else:
                    t = 1.0 / (abs(theta) + np.sqrt(theta * theta + 1.0))
                    if theta < 0.0:
                        t = -t
                c = 1.0 / np.sqrt(t * t + 1.0)
                s = t * c
                for k in range(n):
                    akp = A[k, p]
                    akq = A[k, q]
                    A[k, p] = c * akp - s * akq
                    A[k, q] = s * akp + c * akq
                for k in range(n):
                    apk = A[p, k]
                    aqk = A[q, k]
                    A[p, k] = c * apk - s * aqk
                    A[q, k] = s * apk + c * aqk
                for k in range(n):
                    vkp = V[k, p]
                    vkq = V[k, q]
                    V[k, p] = c * vkp - s * vkq
                    V[k, q] = s * vkp + c * vkq


@njit(cache=True, fastmath={"reassoc", "contract"})
def _cholesky(A, shift, L):
    """Lower Cholesky factor of `A + shift I` (9, 9) into `L` (may be `A` itself), with the
    reciprocals of its diagonal on the diagonal (the triangular solves multiply by them). Returns
    False when the matrix is not numerically positive definite.

    Right-looking (each column updates the trailing block at once): the chain of dependent
    operations between two pivots is shorter than in the dot-product form."""
    n = 9  # a compile-time size lets the compiler unroll the small loops
    for i in range(n):
        for j in range(i + 1):
            L[i, j] = A[i, j]
        L[i, i] += shift
    for j in range(n):
        d = L[j, j]
        if d <= 0.0:
            return False
        r = 1.0 / np.sqrt(d)
        L[j, j] = r
        for i in range(j + 1, n):
            L[i, j] *= r
        for k in range(j + 1, n):
            lkj = L[k, j]
            for i in range(k, n):
                L[i, k] -= L[i, j] * lkj
    return True


@njit(cache=True, fastmath={"reassoc", "contract"})
def _subspace_iteration(M, s):
    """Subspace inverse iteration for the m smallest eigenpairs of a positive semi-definite `M`
    (9, 9), m = s.X.shape[0]: Ritz vectors into the rows of `s.X` (m, 9), Ritz values ascending
    into `s.theta` (m,). Returns False when it does not converge (then use a dense solver).

    Converged means the residual |M x - theta x| of every Ritz pair is below 1e-13 trace(M).
    A Cholesky factor of M + 1e-13 trace(M) I makes each iteration a pair of triangular solves,
    several times cheaper than a dense 9x9 eigen-decomposition. With m = 1 this is plain inverse
    iteration: no orthogonalisation, and the Rayleigh-Ritz step is the Rayleigh quotient."""
    n = 9
    L, X, theta, Y, MY, H, V, order = s.L, s.X, s.theta, s.Y, s.MY, s.H, s.V, s.order
    m = X.shape[0]
    tr = np.trace(M)
    if not _cholesky(M, 1e-13 * tr, L):
        return False
    for c in range(m):  # a fixed generic start
        for i in range(n):
            X[c, i] = 1.0 / (1.0 + i + 3.7 * c) - (0.3 if i % m == c else 0.0)
    for _ in range(30):
        for i in range(n):  # each row y = L^-1 x, the m rows interleaved
            for c in range(m):
                e = X[c, i]
                for k in range(i):
                    e -= L[i, k] * Y[c, k]
                Y[c, i] = e * L[i, i]
        for i in range(n - 1, -1, -1):  # each row y = L^-T y
            for c in range(m):
                e = Y[c, i]
                for k in range(i + 1, n):
                    e -= L[k, i] * Y[c, k]
                Y[c, i] = e * L[i, i]
        for c in range(m):
            y = Y[c]
            for _pass in range(2):  # Gram-Schmidt, twice: the iterates become nearly parallel
                for d in range(c):
                    z = Y[d]
                    e = 0.0
                    for i in range(n):
                        e += y[i] * z[i]
                    for i in range(n):
                        y[i] -= e * z[i]
            e = 0.0
            for i in range(n):
                e += y[i] * y[i]
            e = 1.0 / np.sqrt(e)
            for i in range(n):
                y[i] *= e
        for c in range(m):  # Rayleigh-Ritz: H = Y M Y^T
            for i in range(n):
                e = 0.0
                for k in range(n):
                    e += M[i, k] * Y[c, k]
                MY[c, i] = e
            for d in range(c + 1):
                e = 0.0
                for i in range(n):
                    e += Y[d, i] * MY[c, i]
                H[c, d] = e
                H[d, c] = e
        _jacobi_eigh(H, V)
        for a in range(m):
            order[a] = a
        for a in range(m):
            for b in range(a + 1, m):
                if H[order[b], order[b]] < H[order[a], order[a]]:
                    order[a], order[b] = order[b], order[a]
        res = 0.0
        for a in range(m):
            c = order[a]
            theta[a] = H[c, c]
            for i in range(n):
                e = 0.0
                r = 0.0
                for b in range(m):
                    e += V[b, c] * Y[b, i]
                    r += V[b, c] * MY[b, i]
                X[a, i] = e
                res = max(res, abs(r - theta[a] * e))
        if res <= 1e-13 * tr:
            return True
    return False


@njit(cache=True, fastmath={"reassoc", "contract"})
def _inverse_iteration(M, s):
    """The smallest eigenpair of a positive semi-definite `M` (9, 9) by inverse iteration: unit
    vector into `s.X[0]`, value into `s.theta[0]`. The m = 1 case of `_subspace_iteration` without
    its Rayleigh-Ritz machinery (same start, shift and convergence test); returns False when it
    does not converge."""
    n = 9
    L, x, y, my = s.L, s.X[0], s.Y[0], s.MY[0]
    tr = np.trace(M)
    if not _cholesky(M, 1e-13 * tr, L):
        return False
    for i in range(n):
        x[i] = 1.0 / (1.0 + i) - 0.3
    for _ in range(30):
        for i in range(n):  # y = L^-1 x
            e = x[i]
            for k in range(i):
                e -= L[i, k] * y[k]
            y[i] = e * L[i, i]
        for i in range(n - 1, -1, -1):  # y = L^-T y
            e = y[i]
            for k in range(i + 1, n):
                e -= L[k, i] * y[k]
            y[i] = e * L[i, i]
        e = 0.0
        for i in range(n):
            e += y[i] * y[i]
        e = 1.0 / np.sqrt(e)
        theta = 0.0
        for i in range(n):
            x[i] = y[i] * e
        for i in range(n):  # Rayleigh quotient and residual |M x - theta x|
            e = 0.0
            for k in range(n):
                e += M[i, k] * x[k]
            my[i] = e
            theta += x[i] * e
        res = 0.0
        for i in range(n):
            res = max(res, abs(my[i] - theta * x[i]))
        s.theta[0] = theta
        if res <= 1e-13 * tr:
            return True
    return False


@njit(cache=True)
def _smallest_eigenvectors(M, s):
    """The m = s.X.shape[0] smallest eigenpairs of a positive semi-definite `M` (9, 9): unit
    vectors into the rows of `s.X` (m, 9), values ascending into `s.theta` (m,). Fast inverse
    iteration (subspace iteration for m > 1), dense fallback."""
    if _inverse_iteration(M, s) if s.X.shape[0] == 1 else _subspace_iteration(M, s):
        return
    evals, evecs = np.linalg.eigh(M)
    for c in range(s.X.shape[0]):
        s.theta[c] = evals[c]
        for i in range(M.shape[0]):
            s.X[c, i] = evecs[i, c]


@njit(cache=True)
def _next_eigenvalue_vanishes(M, s):
    """Whether the eigenvalue of `M` (9, 9) after the m smallest ones in `s.X` (from
    `_smallest_eigenvectors`) is below `_DEGENERATE_EIG` trace(M), i.e. the null space has a
    dimension > m. Deflation: that eigenvalue is the smallest of M + trace(M) X^T X, which
    exceeds the threshold exactly when M + trace(M) X^T X - threshold I has a Cholesky factor
    (computed into `s.L`)."""
    tr = np.trace(M)
    D = s.L  # the deflated matrix, factored in place
    for i in range(9):
        for j in range(9):
            e = M[i, j]
            for c in range(s.X.shape[0]):
                e += tr * s.X[c, i] * s.X[c, j]
            D[i, j] = e
    return not _cholesky(D, -_DEGENERATE_EIG * tr, D)


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


# Problems per scratch allocation in `_eight_point_batch`.
_BATCH_CHUNK = 64


@njit(cache=True, parallel=True)
def _eight_point_batch(x1s, x2s, Fs, status):
    n_problems, n = x1s.shape[0], x1s.shape[1]
    w = np.ones(n)
    for chunk in prange((n_problems + _BATCH_CHUNK - 1) // _BATCH_CHUNK):
        s = _scratch(n, 1)
        for b in range(chunk * _BATCH_CHUNK, min(n_problems, (chunk + 1) * _BATCH_CHUNK)):
            status[b] = _eight_point_into(x1s[b], x2s[b], w, Fs[b], s)


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


@njit(cache=True)
def _epipolar_terms(F, u1, v1, u2, v2):
    """For one correspondence: the algebraic error r = x2^T F x1, the squared norm g of its
    gradient in the four pixel coordinates (r^2 / g is the squared Sampson distance), and the
    line coefficients a, b (F x1) and d, e (F^T x2) that the gradient is made of."""
    a = F[0, 0] * u1 + F[0, 1] * v1 + F[0, 2]
    b = F[1, 0] * u1 + F[1, 1] * v1 + F[1, 2]
    c = F[2, 0] * u1 + F[2, 1] * v1 + F[2, 2]
    d = F[0, 0] * u2 + F[1, 0] * v2 + F[2, 0]
    e = F[0, 1] * u2 + F[1, 1] * v2 + F[2, 1]
    return u2 * a + v2 * b + c, a * a + b * b + d * d + e * e, a, b, d, e


@njit(cache=True)
def _sampson(F, x1, x2, out):
    """Sampson distances (N,) in pixels (not squared) of correspondences `x1`, `x2` (N, 2)
    under `F` (3, 3) into `out`. No validation."""
    for i in range(x1.shape[0]):
        r, g, _, _, _, _ = _epipolar_terms(F, x1[i, 0], x1[i, 1], x2[i, 0], x2[i, 1])
        out[i] = abs(r) / np.sqrt(g) if g > 0.0 else np.inf


@njit(cache=True)
def _cheirality_counts(Rs, ts, y1, y2, counts, front):
    """For each candidate pose (Rs (4, 3, 3), ts (4, 3)) count the normalised correspondences
    y1, y2 (N, 2) whose two-ray least-squares depths are positive in both cameras; `front`
    (4, N) marks them."""
    for p in range(Rs.shape[0]):
        R = Rs[p]
        t = ts[p]
        c = 0
        for i in range(y1.shape[0]):
            # Solve lam2 b - lam1 a = t in the least-squares sense, a = R [y1, 1], b = [y2, 1].
            a0 = R[0, 0] * y1[i, 0] + R[0, 1] * y1[i, 1] + R[0, 2]
            a1 = R[1, 0] * y1[i, 0] + R[1, 1] * y1[i, 1] + R[1, 2]
            a2 = R[2, 0] * y1[i, 0] + R[2, 1] * y1[i, 1] + R[2, 2]
            b0 = y2[i, 0]
            b1 = y2[i, 1]
            aa = a0 * a0 + a1 * a1 + a2 * a2
            bb = b0 * b0 + b1 * b1 + 1.0
            ab = a0 * b0 + a1 * b1 + a2
            at = a0 * t[0] + a1 * t[1] + a2 * t[2]
            bt = b0 * t[0] + b1 * t[1] + t[2]
            det = aa * bb - ab * ab
            ok = det > 1e-12 * aa * bb
            if ok:
                lam1 = (ab * bt - bb * at) / det
                lam2 = (aa * bt - ab * at) / det
                ok = lam1 > 0.0 and lam2 > 0.0
            front[p, i] = ok
            c += ok
        counts[p] = c


# ---------------------------------------------------------------------------- estimation

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


def _raise_status(status, n_params):
    if status:
        raise ValueError(_STATUS_MESSAGES[status].format(9 - n_params))


# ---------------------------------------------------------------------------- conversions

def essential_from_fundamental(F, K1, K2):
    """E = K2^T F K1 (3, 3), unit Frobenius norm (not projected; see `project_to_essential`)."""
    F = _checks.matrix3(F, "F")
    E = _checks.intrinsics(K2, "K2").T @ F @ _checks.intrinsics(K1, "K1")
    return _unit(E, "F")


def fundamental_from_essential(E, K1, K2):
    """F = K2^-T E K1^-1 (3, 3), unit Frobenius norm."""
    E = _checks.matrix3(E, "E")
    K1 = _checks.intrinsics(K1, "K1")
    K2 = _checks.intrinsics(K2, "K2")
    return _unit(np.linalg.solve(K2.T, E) @ np.linalg.inv(K1), "E")


def essential_from_pose(R, t):
    """E = [t]x R (3, 3) of the relative pose `X2 = R X1 + t`, not normalised (|E| = sqrt(2)|t|)."""
    R = _checks.rotation(R, "R")
    t = _checks.vector3(t, "t")
    tx = np.array([[0.0, -t[2], t[1]], [t[2], 0.0, -t[0]], [-t[1], t[0], 0.0]])
    return tx @ R


def fundamental_from_cameras(cam1, cam2):
    """F (3, 3) of two `Camera`s, unit Frobenius norm: `x2^T F x1 = 0` for x_i = cam_i.project(X).
    Raises ValueError when the camera centres coincide (no epipolar geometry)."""
    check_camera(cam1, "cam1")
    check_camera(cam2, "cam2")
    R, t = relative_pose(cam1, cam2)
    if np.linalg.norm(t) <= 1e-12 * max(np.linalg.norm(cam1.t), np.linalg.norm(cam2.t), 1.0):
        raise ValueError("cam1, cam2: camera centres coincide (zero baseline, F undefined)")
    return fundamental_from_essential(essential_from_pose(R, t), cam1.K, cam2.K)


def project_to_essential(E):
    """Closest essential matrix (Frobenius) to `E` (3, 3): singular values (s, s, 0) with
    s the mean of the two largest singular values of `E`."""
    E = _checks.matrix3(E, "E")
    u, s, vt = np.linalg.svd(E)
    return (u[:, :2] * ((s[0] + s[1]) / 2)) @ vt[:2]


def decompose_essential(E):
    """The four relative poses of an essential matrix `E` (3, 3).

    Returns Rs (4, 3, 3) rotations and ts (4, 3) unit translations, in the order
    (R1, t), (R1, -t), (R2, t), (R2, -t), each with `E ~ [t]x R` up to scale. Which one is
    physical is decided by cheirality (`pose_from_essential`).
    """
    E = _checks.matrix3(E, "E")
    u, s, vt = np.linalg.svd(E)
    if s[1] <= 1e-9 * s[0] or s[0] == 0:
        raise ValueError(f"E: rank below 2 (singular values {s}), not an essential matrix")
    if np.linalg.det(u) < 0:
        u = -u
    if np.linalg.det(vt) < 0:
        vt = -vt
    W = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    R1 = u @ W @ vt
    R2 = u @ W.T @ vt
    t = u[:, 2]
    return np.stack([R1, R1, R2, R2]), np.stack([t, -t, t, -t])


def pose_from_essential(E, x1, x2, K1, K2):
    """The relative pose `X2 = R X1 + t` encoded by `E` that puts the points in front of both
    cameras (cheirality).

    E: (3, 3); x1, x2: (N, 2) pixels, N >= 1; K1, K2: (3, 3) calibrations. Returns R (3, 3),
    t (3,) with |t| = 1, and mask (N,) bool of the correspondences in front of both cameras
    under that pose. Raises ValueError when no pose has a strict majority of the points in front
    or two poses tie (degenerate or inconsistent data).
    """
    Rs, ts = decompose_essential(E)
    x1, x2 = _checks.point_pairs(x1, x2, 1)
    y1 = normalize_points(x1, K1)
    y2 = normalize_points(x2, K2)
    counts = np.empty(4, np.int64)
    front = np.empty((4, x1.shape[0]), np.bool_)
    _cheirality_counts(Rs, ts, y1, y2, counts, front)
    order = np.argsort(counts)[::-1]
    best, second = counts[order[0]], counts[order[1]]
    if 2 * best <= x1.shape[0] or best == second:
        raise ValueError(f"x1, x2: cheirality does not single out a pose (points in front per pose:"
                         f" {counts.tolist()} of {x1.shape[0]})")
    return Rs[order[0]], ts[order[0]], front[order[0]]


# ---------------------------------------------------------------------------- epipoles, lines

def epipoles(F):
    """Epipoles of `F` (3, 3) as homogeneous unit 3-vectors (e1, e2): `F e1 = 0` (image 1, the
    projection of camera 2's centre) and `F^T e2 = 0` (image 2). Divide by the last coordinate
    for pixels when it is not ~0 (an epipole at infinity has none)."""
    F = _checks.matrix3(F, "F")
    u, s, vt = np.linalg.svd(F)
    if s[0] == 0:
        raise ValueError("F: zero matrix has no epipoles")
    return vt[2], u[:, 2]


def epipolar_lines(F, x, image=1):
    """Epipolar lines in the other image of points `x` (N, 2) of image `image` (1 or 2):
    `F x` for image 1, `F^T x` for image 2, as (N, 3) lines (a, b, c) scaled so a^2 + b^2 = 1,
    so that a x + b y + c is the signed distance in pixels of (x, y) to the line."""
    F = _checks.matrix3(F, "F")
    x = _checks.points(x, "x")
    if image not in (1, 2):
        raise ValueError(f"image: expected 1 or 2, got {image}")
    G = F if image == 1 else F.T
    lines = x @ G[:, :2].T + G[:, 2]
    n = np.hypot(lines[:, 0], lines[:, 1])
    if (n == 0).any():
        raise ValueError("x: a point is at the epipole, its epipolar line is undefined")
    return lines / n[:, None]


# ---------------------------------------------------------------------------- errors

def algebraic_error(F, x1, x2):
    """|x2^T F x1| (N,) for F (3, 3) and pixels x1, x2 (N, 2) (its scale follows F's norm)."""
    F, x1, x2 = _checked(F, x1, x2)
    return np.abs(_residual(F, x1, x2))


def symmetric_epipolar_distance(F, x1, x2):
    """sqrt(d(x2, F x1)^2 + d(x1, F^T x2)^2) (N,) in pixels: the point-to-epipolar-line
    distances in both images, combined. F (3, 3); x1, x2 (N, 2)."""
    F, x1, x2 = _checked(F, x1, x2)
    l2 = x1 @ F[:, :2].T + F[:, 2]
    l1 = x2 @ F[:2, :] + F[2, :]
    with np.errstate(divide="ignore"):
        return np.abs(_residual(F, x1, x2)) * np.sqrt(1.0 / (l2[:, 0] ** 2 + l2[:, 1] ** 2)
                                                      + 1.0 / (l1[:, 0] ** 2 + l1[:, 1] ** 2))


def sampson_distance(F, x1, x2):
    """Sampson distance (N,) in pixels of correspondences x1, x2 (N, 2) under F (3, 3):
    |x2^T F x1| / sqrt((F x1)_1^2 + (F x1)_2^2 + (F^T x2)_1^2 + (F^T x2)_2^2), the square root of
    the first-order approximation of the squared geometric (reprojection) error
    min |x1 - x1'|^2 + |x2 - x2'|^2 over x2'^T F x1' = 0."""
    F, x1, x2 = _checked(F, x1, x2)
    out = np.empty(x1.shape[0])
    _sampson(F, x1, x2, out)
    return out


def _checked(F, x1, x2):
    """F, x1, x2 validated for the error functions, which square F x1, F^T x2 and x2^T F x1."""
    F = _checks.matrix3(F, "F")
    x1, x2 = _checks.point_pairs(x1, x2)
    if 3.0 * np.abs(F).max() * (1.0 + max(np.abs(x1).max(initial=0.0),
                                          np.abs(x2).max(initial=0.0))) > _checks.LARGEST:
        raise _checks.overflow("F, x1, x2")
    return F, x1, x2


def _residual(F, x1, x2):
    """x2^T F x1 (N,)."""
    return np.einsum("ni,ni->n", x2, x1 @ F[:2, :2].T + F[:2, 2]) + x1 @ F[2, :2] + F[2, 2]


def _unit(M, name):
    n = np.linalg.norm(M)
    if n == 0:
        raise ValueError(f"{name}: zero matrix")
    return M / n
