"""Five-point relative pose: the essential matrices consistent with five calibrated correspondences.

Nister's solver (PAMI 2004) with a Sturm-sequence root finder. Five correspondences in
normalised image coordinates (`K^-1 x`, see `geom.camera.normalize_points`) leave a
four-dimensional null space `E = x X + y Y + z Z + W` of the epipolar constraints
`q2^T E q1 = 0`. The ten cubic constraints `det E = 0` and `2 E E^T E - tr(E E^T) E = 0` are
linear in the twenty monomials of degree <= 3 in (x, y, z). Gauss-Jordan elimination in
Nister's monomial order, then three row differences, leave a 3 x 3 matrix B(z) with
`B(z) [x, y, 1]^T = 0`; its determinant is a polynomial of degree 10 in z whose real roots
(isolated by Sturm sequences, polished by bisection-safeguarded Newton steps) give z, and the
null vector of B(z) gives x and y.

Convention (DESIGN.md): `E = [t]x R` with `X2 = R X1 + t`, `q2^T E q1 = 0`.
"""
import numpy as np
from numba import njit

from . import _checks


def essential_five_point(q1, q2):
    """All real essential matrices through five correspondences.

    q1, q2: (5, 2) normalised image coordinates (`K^-1 x`) in images 1 and 2.
    Returns Es (k, 3, 3), 0 <= k <= 10, each at unit Frobenius norm with singular values
    (s, s, 0) and `q2^T E q1 = 0` on the five points. Raises ValueError for a degenerate
    configuration (the epipolar constraints of the five points are not independent).
    """
    q1, q2 = _checks.point_pairs(q1, q2, min_count=5, names=("q1", "q2"))
    if q1.shape[0] != 5:
        raise ValueError(f"q1, q2: expected exactly 5 correspondences, got {q1.shape[0]}")
    out = np.empty((10, 3, 3))
    k = _five_point(q1, q2, out)
    if k < 0:
        raise ValueError("q1, q2: degenerate configuration, the five epipolar constraints are "
                         "not independent")
    return out[:k].copy()


# ---------------------------------------------------------------------------- monomial tables

def _tables():
    """Exponent bookkeeping for products of polynomials in (x, y, z) of degree <= 3."""
    linear = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)]
    quadratic = [(2, 0, 0), (1, 1, 0), (0, 2, 0), (1, 0, 1), (0, 1, 1), (0, 0, 2),
                 (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)]
    # Nister's order: the ten eliminated monomials first, then
    # x z^2, x z, x, y z^2, y z, y, z^3, z^2, z, 1
    nister = [(3, 0, 0), (0, 3, 0), (2, 1, 0), (1, 2, 0), (2, 0, 1), (2, 0, 0), (0, 2, 1),
              (0, 2, 0), (1, 1, 1), (1, 1, 0),
              (1, 0, 2), (1, 0, 1), (1, 0, 0), (0, 1, 2), (0, 1, 1), (0, 1, 0), (0, 0, 3),
              (0, 0, 2), (0, 0, 1), (0, 0, 0)]

    def add(a, b):
        return tuple(i + j for i, j in zip(a, b))

    lin_lin = np.array([[quadratic.index(add(a, b)) for b in linear] for a in linear], np.int64)
    quad_lin = np.array([[nister.index(add(a, b)) for b in linear] for a in quadratic], np.int64)
    return lin_lin, quad_lin, np.array(nister, np.int64)


_LIN_LIN, _QUAD_LIN, _EXPONENTS = _tables()


# ---------------------------------------------------------------------------- kernels

@njit(cache=True)
def _mul_lin_lin(a, b, out):
    """out (10,) += a (4,) * b (4,): product of two linear polynomials (quadratic basis order)."""
    for i in range(4):
        for j in range(4):
            out[_LIN_LIN[i, j]] += a[i] * b[j]


@njit(cache=True)
def _mul_quad_lin(a, b, out, scale):
    """out (20,) += scale * a (10,) * b (4,): quadratic times linear polynomial."""
    for i in range(10):
        for j in range(4):
            out[_QUAD_LIN[i, j]] += scale * a[i] * b[j]


@njit(cache=True)
def _gauss_jordan(M):
    """Reduce M (n, m >= n) in place to [I | C] with partial pivoting; False if the left n x n
    block is singular to working precision."""
    n = M.shape[0]
    scale = np.abs(M[:, :n]).max()
    for c in range(n):
        p = c
        for r in range(c + 1, n):
            if abs(M[r, c]) > abs(M[p, c]):
                p = r
        if abs(M[p, c]) <= 1e-12 * scale:
            return False
        if p != c:
            for j in range(M.shape[1]):
                M[c, j], M[p, j] = M[p, j], M[c, j]
        inv = 1.0 / M[c, c]
        for j in range(c, M.shape[1]):
            M[c, j] *= inv
        for r in range(n):
            f = M[r, c]
            if r != c and f != 0.0:  # explicit loops: a row expression allocates a temporary
                for j in range(c, M.shape[1]):
                    M[r, j] -= f * M[c, j]
    return True


@njit(cache=True)
def _null_space_5x9(At):
    """Orthonormal basis (4, 9) of the vectors orthogonal to the five columns of At (9, 5),
    by Householder QR; NaNs when the columns are rank deficient."""
    V = np.zeros((5, 9))  # Householder vectors
    scale = np.abs(At).max()
    for k in range(5):
        nrm = 0.0
        for i in range(k, 9):
            nrm += At[i, k] * At[i, k]
        nrm = np.sqrt(nrm)
        if nrm <= 1e-10 * scale:
            return np.full((4, 9), np.nan)
        alpha = -nrm if At[k, k] > 0 else nrm
        for i in range(k, 9):
            V[k, i] = At[i, k]
        V[k, k] -= alpha
        vn = 0.0
        for i in range(k, 9):
            vn += V[k, i] * V[k, i]
        vn = np.sqrt(vn)
        for i in range(k, 9):
            V[k, i] /= vn
        for j in range(k, 5):  # apply (I - 2 v v^T) to the remaining columns
            d = 0.0
            for i in range(k, 9):
                d += V[k, i] * At[i, j]
            for i in range(k, 9):
                At[i, j] -= 2.0 * d * V[k, i]
    null = np.zeros((4, 9))
    for c in range(4):  # Q e_(5 + c) = H_0 H_1 ... H_4 e_(5 + c)
        null[c, 5 + c] = 1.0
        for k in range(4, -1, -1):
            d = 0.0
            for i in range(k, 9):
                d += V[k, i] * null[c, i]
            for i in range(k, 9):
                null[c, i] -= 2.0 * d * V[k, i]
    return null


@njit(cache=True)
def _five_point(q1, q2, out):
    """Essential matrices through five normalised correspondences q1, q2 (5, 2), written to
    out (10, 3, 3). Returns their number k, or -1 for a degenerate configuration."""
    # orthonormal null space of the 5 x 9 epipolar system A: the last four columns of the Q of
    # a Householder QR of A^T (9 x 5)
    At = np.empty((9, 5))
    for i in range(5):
        h1 = (q1[i, 0], q1[i, 1], 1.0)
        h2 = (q2[i, 0], q2[i, 1], 1.0)
        for a in range(3):
            for b in range(3):
                At[3 * a + b, i] = h2[a] * h1[b]
    null = _null_space_5x9(At)
    if null[0, 0] != null[0, 0]:
        return -1
    # E_ab as a linear polynomial in (x, y, z): coefficients [x, y, z, 1]
    E = np.empty((3, 3, 4))
    for a in range(3):
        for b in range(3):
            for c in range(4):
                E[a, b, c] = null[c, 3 * a + b]
    # E E^T (quadratic), its trace, and the cubic constraints
    EEt = np.zeros((3, 3, 10))
    for a in range(3):
        for b in range(3):
            for c in range(3):
                _mul_lin_lin(E[a, c], E[b, c], EEt[a, b])
    tr = EEt[0, 0] + EEt[1, 1] + EEt[2, 2]
    M = np.zeros((10, 20))
    for a in range(3):
        for b in range(3):
            row = M[3 * a + b]
            for c in range(3):
                _mul_quad_lin(EEt[a, c], E[c, b], row, 2.0)
            _mul_quad_lin(tr, E[a, b], row, -1.0)
    cof = np.zeros(10)
    tmp = np.zeros(10)
    for j in range(3):  # det E = sum_j E_0j cof_0j, cof_0j = E_1,j+1 E_2,j+2 - E_1,j+2 E_2,j+1
        cof[:] = 0.0
        tmp[:] = 0.0
        _mul_lin_lin(E[1, (j + 1) % 3], E[2, (j + 2) % 3], cof)
        _mul_lin_lin(E[1, (j + 2) % 3], E[2, (j + 1) % 3], tmp)
        _mul_quad_lin(cof, E[0, j], M[9], 1.0)
        _mul_quad_lin(tmp, E[0, j], M[9], -1.0)
    M0 = M.copy()
    if not _gauss_jordan(M):
        return -1
    # B(z) rows from <e> - z<f>, <g> - z<h>, <i> - z<j>: [x coeffs (4), y coeffs (4),
    # constant coeffs (5)] in increasing powers of z
    B = np.zeros((3, 3, 5))
    for r in range(3):
        p = M[4 + 2 * r, 10:]
        q = M[5 + 2 * r, 10:]
        B[r, 0, 0] = p[2]
        B[r, 0, 1] = p[1] - q[2]
        B[r, 0, 2] = p[0] - q[1]
        B[r, 0, 3] = -q[0]
        B[r, 1, 0] = p[5]
        B[r, 1, 1] = p[4] - q[5]
        B[r, 1, 2] = p[3] - q[4]
        B[r, 1, 3] = -q[3]
        B[r, 2, 0] = p[9]
        B[r, 2, 1] = p[8] - q[9]
        B[r, 2, 2] = p[7] - q[8]
        B[r, 2, 3] = p[6] - q[7]
        B[r, 2, 4] = -q[6]
    # det B(z) by cofactors along the first row
    det = np.zeros(11)
    minor = np.empty(9)
    for j in range(3):
        j1 = (j + 1) % 3
        j2 = (j + 2) % 3
        minor[:] = 0.0
        _poly_mul_add(B[1, j1], B[2, j2], 1.0, minor)
        _poly_mul_add(B[1, j2], B[2, j1], -1.0, minor)
        _poly_mul_add(B[0, j], minor, 1.0, det)
    zs = np.empty(10)
    nz = _real_roots(det, zs)
    k = 0
    Bz = np.empty((3, 3))
    for i in range(nz):
        z = zs[i]
        for r in range(3):
            for c in range(3):
                acc = 0.0
                for d in range(4, -1, -1):
                    acc = acc * z + B[r, c, d]
                Bz[r, c] = acc
        # the null vector of B(z): the largest (in its last entry) cross product of two rows
        best = -1.0
        v0 = v1 = v2 = 0.0
        for (r1, r2) in ((0, 1), (0, 2), (1, 2)):
            w2 = Bz[r1, 0] * Bz[r2, 1] - Bz[r1, 1] * Bz[r2, 0]
            if abs(w2) > best:
                best = abs(w2)
                v0 = Bz[r1, 1] * Bz[r2, 2] - Bz[r1, 2] * Bz[r2, 1]
                v1 = Bz[r1, 2] * Bz[r2, 0] - Bz[r1, 0] * Bz[r2, 2]
                v2 = w2
        if v2 == 0.0:
            continue
        x, y, z = _polish_solution(M0, v0 / v2, v1 / v2, z)
        nrm = 0.0
        for a in range(3):
            for b in range(3):
                e = x * E[a, b, 0] + y * E[a, b, 1] + z * E[a, b, 2] + E[a, b, 3]
                out[k, a, b] = e
                nrm += e * e
        nrm = np.sqrt(nrm)
        for a in range(3):
            for b in range(3):
                out[k, a, b] /= nrm
        k += 1
    return k


@njit(cache=True)
def _polish_solution(M, x, y, z):
    """One Gauss-Newton step on the ten cubic constraints M (10, 20) (Nister's monomial order)
    at (x, y, z): the polynomial's root loses digits where roots cluster."""
    pw = np.ones((3, 4))
    for k in range(1, 4):
        pw[0, k] = pw[0, k - 1] * x
        pw[1, k] = pw[1, k - 1] * y
        pw[2, k] = pw[2, k - 1] * z
    A = np.zeros((10, 3))
    r = np.zeros(10)
    for k in range(20):
        a, b, c = _EXPONENTS[k, 0], _EXPONENTS[k, 1], _EXPONENTS[k, 2]
        mono = pw[0, a] * pw[1, b] * pw[2, c]
        dx = a * pw[0, a - 1] * pw[1, b] * pw[2, c] if a > 0 else 0.0
        dy = b * pw[0, a] * pw[1, b - 1] * pw[2, c] if b > 0 else 0.0
        dz = c * pw[0, a] * pw[1, b] * pw[2, c - 1] if c > 0 else 0.0
        for i in range(10):
            r[i] += M[i, k] * mono
            A[i, 0] += M[i, k] * dx
            A[i, 1] += M[i, k] * dy
            A[i, 2] += M[i, k] * dz
    N = np.zeros((3, 3))
    g = np.zeros(3)
    for i in range(10):
        for u in range(3):
            g[u] += A[i, u] * r[i]
            for v in range(3):
                N[u, v] += A[i, u] * A[i, v]
    # solve N d = g by Cramer's rule (N symmetric: the cofactor matrix is its adjugate)
    c00 = N[1, 1] * N[2, 2] - N[1, 2] * N[2, 1]
    c01 = N[1, 2] * N[2, 0] - N[1, 0] * N[2, 2]
    c02 = N[1, 0] * N[2, 1] - N[1, 1] * N[2, 0]
    c11 = N[0, 0] * N[2, 2] - N[0, 2] * N[2, 0]
    c12 = N[0, 1] * N[2, 0] - N[0, 0] * N[2, 1]
    c22 = N[0, 0] * N[1, 1] - N[0, 1] * N[1, 0]
    det = N[0, 0] * c00 + N[0, 1] * c01 + N[0, 2] * c02
    if det == 0.0 or not np.isfinite(det):
        return x, y, z
    d0 = (c00 * g[0] + c01 * g[1] + c02 * g[2]) / det
    d1 = (c01 * g[0] + c11 * g[1] + c12 * g[2]) / det
    d2 = (c02 * g[0] + c12 * g[1] + c22 * g[2]) / det
    return x - d0, y - d1, z - d2


@njit(cache=True)
def _poly_mul_add(a, b, scale, out):
    """out += scale * a * b for polynomials (increasing powers), terms beyond out's length
    dropped."""
    for i in range(a.shape[0]):
        for j in range(min(b.shape[0], out.shape[0] - i)):
            out[i + j] += scale * a[i] * b[j]


@njit(cache=True)
def _horner(p, deg, x):
    acc = 0.0
    for d in range(deg, -1, -1):
        acc = acc * x + p[d]
    return acc


@njit(cache=True)
def _sign_changes(S, degs, count, x):
    """Sign changes of the Sturm sequence S (rows, increasing powers) at x."""
    changes = 0
    last = 0.0
    for i in range(count):
        v = _horner(S[i], degs[i], x)
        if v != 0.0:
            if last != 0.0 and (v > 0.0) != (last > 0.0):
                changes += 1
            last = v
    return changes


@njit(cache=True)
def _real_roots(c, roots):
    """Distinct real roots of the polynomial c (increasing powers) into roots; returns their
    number. Sturm-sequence isolation, then safeguarded Newton (bisection fallback)."""
    scale = np.abs(c).max()
    if scale == 0.0:
        return 0
    deg = c.shape[0] - 1
    while deg > 0 and abs(c[deg]) <= 1e-14 * scale:
        deg -= 1
    if deg == 0:
        return 0
    S = np.zeros((deg + 1, deg + 1))
    degs = np.zeros(deg + 1, np.int64)
    lead = c[deg]
    for d in range(deg + 1):
        S[0, d] = c[d] / abs(lead)
    degs[0] = deg
    for d in range(1, deg + 1):
        S[1, d - 1] = d * c[d] / abs(lead * deg)
    degs[1] = deg - 1
    count = 2
    a = np.empty(deg + 1)
    while count <= deg and degs[count - 1] > 0:
        da = degs[count - 2]
        db = degs[count - 1]
        a[:da + 1] = S[count - 2, :da + 1]
        b = S[count - 1]
        for top in range(da, db - 1, -1):
            f = a[top] / b[db]
            for j in range(db + 1):
                a[top - db + j] -= f * b[j]
        dr = db - 1
        rs = np.abs(a[:db]).max() if db > 0 else 0.0
        while dr >= 0 and abs(a[dr]) <= 1e-13 * max(rs, 1e-300):
            dr -= 1
        if dr < 0:
            break  # a repeated root: the sequence ends early (its count stays valid)
        for j in range(dr + 1):
            S[count, j] = -a[j] / abs(a[dr])
        degs[count] = dr
        count += 1
    bound = 0.0  # Fujiwara's bound on the magnitude of the roots
    for d in range(deg):
        e = abs(c[d] / lead)
        if d == 0:
            e /= 2.0
        bound = max(bound, e ** (1.0 / (deg - d)))
    bound = 2.0 * bound * (1.0 + 1e-12) + 1e-300
    # interval stack: roots in (lo, hi] = changes(lo) - changes(hi)
    stack_lo = np.empty(64)
    stack_hi = np.empty(64)
    stack_clo = np.empty(64, np.int64)
    stack_chi = np.empty(64, np.int64)
    top = 0
    stack_lo[0] = -bound
    stack_hi[0] = bound
    stack_clo[0] = _sign_changes(S, degs, count, -bound)
    stack_chi[0] = _sign_changes(S, degs, count, bound)
    n = 0
    while top >= 0:
        lo = stack_lo[top]
        hi = stack_hi[top]
        clo = stack_clo[top]
        chi = stack_chi[top]
        top -= 1
        m = clo - chi
        if m <= 0:
            continue
        if m == 1 or hi - lo <= 1e-12 * (1.0 + abs(lo) + abs(hi)) or top >= 61:
            roots[n] = _polish(c, deg, lo, hi)
            n += 1
            if n == roots.shape[0]:
                break
            continue
        mid = 0.5 * (lo + hi)
        cmid = _sign_changes(S, degs, count, mid)
        top += 1
        stack_lo[top] = lo
        stack_hi[top] = mid
        stack_clo[top] = clo
        stack_chi[top] = cmid
        top += 1
        stack_lo[top] = mid
        stack_hi[top] = hi
        stack_clo[top] = cmid
        stack_chi[top] = chi
    return n


@njit(cache=True)
def _polish(c, deg, lo, hi):
    """The root of c in (lo, hi] (a sign change, or a tiny interval): Newton steps kept inside
    the bracket, bisection otherwise."""
    flo = _horner(c, deg, lo)
    fhi = _horner(c, deg, hi)
    if flo == 0.0:
        return lo
    if fhi == 0.0 or (flo > 0.0) == (fhi > 0.0):
        return hi if abs(fhi) < abs(flo) else lo
    x = 0.5 * (lo + hi)
    for _ in range(100):
        f = 0.0
        df = 0.0
        for d in range(deg, -1, -1):
            df = df * x + f
            f = f * x + c[d]
        if f == 0.0:
            return x
        if (f > 0.0) == (flo > 0.0):
            lo = x
        else:
            hi = x
        step = f / df if df != 0.0 else 0.0
        xn = x - step
        if df == 0.0 or xn <= lo or xn >= hi:
            xn = 0.5 * (lo + hi)
        if abs(xn - x) <= 1e-15 * (1.0 + abs(x)) or hi - lo <= 1e-15 * (1.0 + abs(x)):
            return xn
        x = xn
    return x
