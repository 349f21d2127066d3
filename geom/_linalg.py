"""Small dense linear algebra under the solvers (numba kernels, no validation): Hartley
normalisation, Jacobi, Cholesky, the smallest eigenpairs of a 9x9 normal matrix (its scratch `s`
is `geom.eightpoint._scratch`'s), 3x3 determinant and cubic roots.
"""
import numpy as np
from numba import njit

# Relative size below which an eigenvalue of a normalised normal matrix (a squared singular value
# of the design matrix) or of a point covariance counts as zero.
_DEGENERATE_EIG = 1e-12


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
