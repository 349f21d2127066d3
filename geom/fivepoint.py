"""Five-point relative pose: the essential matrices consistent with five calibrated correspondences.

Nister's solver (PAMI 2004) with a Sturm-sequence root finder. Five correspondences in
normalised image coordinates (`K^-1 x`, see `geom.camera.normalize_points`) leave a
four-dimensional null space `E = x X + y Y + z Z + W` of the epipolar constraints
`q2^T E q1 = 0`. The ten cubic constraints `det E = 0` and `2 E E^T E - tr(E E^T) E = 0` are
linear in the twenty monomials of degree <= 3 in (x, y, z). Elimination in Nister's monomial
order (rows 4..9 reduced), then three row differences, leave a 3 x 3 matrix B(z) with
`B(z) [x, y, 1]^T = 0`; its determinant is a polynomial of degree 10 in z whose real roots
(isolated by Sturm sequences, polished by bisection-safeguarded Newton steps) give z, and the
null vector of B(z) gives x and y; one Gauss-Newton step on the reduced constraints polishes
(x, y, z). No allocation per solve: the kernels work in one scratch buffer (`WORK_SIZE`).

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
    k = _five_point(q1, q2, out, np.empty(WORK_SIZE))
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
    return lin_lin, quad_lin


_LIN_LIN, _QUAD_LIN = _tables()


# ---------------------------------------------------------------------------- kernels

# The solver's scratch, one flat float64 buffer carved into views (a RANSAC loop passes the same
# buffer to every solve: no allocation per call). Offsets of At (9, 5), V (5, 9), null (4, 9),
# E (3, 3, 4), Q (3, 3, 10), M (10, 20), the cofactor (10), B (3, 3, 5), det (11), minor (9), the
# roots (10) and the root finder's scratch.
_AT, _V, _NULL, _E, _Q, _M, _COF, _B, _DET, _MINOR, _ZS, _ROOTS_WORK = (
    0, 45, 90, 126, 162, 252, 452, 462, 507, 518, 527, 537)
_ROOTS_WORK_SIZE = 11 * 11 + 11 + 11 + 4 * 64  # Sturm sequence, degrees, remainder, stack
WORK_SIZE = _ROOTS_WORK + _ROOTS_WORK_SIZE


@njit(cache=True)
def _mul_lin_lin(a, b, scale, out):
    """out (10,) += scale * a (4,) * b (4,): product of two linear polynomials (quadratic
    basis order)."""
    for i in range(4):
        for j in range(4):
            out[_LIN_LIN[i, j]] += scale * a[i] * b[j]


@njit(cache=True)
def _mul_quad_lin(a, b, out):
    """out (20,) += a (10,) * b (4,): quadratic times linear polynomial."""
    for i in range(10):
        for j in range(4):
            out[_QUAD_LIN[i, j]] += a[i] * b[j]


@njit(cache=True)
def _reduce(M):
    """Bring the rows 4..9 of M (10, 20) to reduced row echelon form [I | C] (Gaussian
    elimination with partial pivoting, then back substitution on the trailing ten columns,
    which is all Nister's B(z) needs); False if the left 10 x 10 block is singular to working
    precision."""
    scale = 0.0
    for r in range(10):
        for c in range(10):
            scale = max(scale, abs(M[r, c]))
    for c in range(10):
        p = c
        for r in range(c + 1, 10):
            if abs(M[r, c]) > abs(M[p, c]):
                p = r
        if abs(M[p, c]) <= 1e-12 * scale:
            return False
        if p != c:
            for j in range(c, 20):
                M[c, j], M[p, j] = M[p, j], M[c, j]
        inv = 1.0 / M[c, c]
        for j in range(c + 1, 20):
            M[c, j] *= inv
        for r in range(c + 1, 10):
            f = M[r, c]
            if f != 0.0:
                for j in range(c + 1, 20):
                    M[r, j] -= f * M[c, j]
    for r in range(8, 3, -1):
        for s in range(r + 1, 10):
            f = M[r, s]
            if f != 0.0:
                for j in range(10, 20):
                    M[r, j] -= f * M[s, j]
    return True


@njit(cache=True)
def _null_space_5x9(At, V, null):
    """Orthonormal basis null (4, 9) of the vectors orthogonal to the five columns of At (9, 5),
    by Householder QR (At is overwritten, V (5, 9) holds the reflectors); False when the columns
    are rank deficient."""
    scale = 0.0
    for i in range(9):
        for j in range(5):
            scale = max(scale, abs(At[i, j]))
    for k in range(5):
        nrm = 0.0
        for i in range(k, 9):
            nrm += At[i, k] * At[i, k]
        nrm = np.sqrt(nrm)
        if nrm <= 1e-10 * scale:
            return False
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
    null[:] = 0.0
    for c in range(4):  # Q e_(5 + c) = H_0 H_1 ... H_4 e_(5 + c)
        null[c, 5 + c] = 1.0
        for k in range(4, -1, -1):
            d = 0.0
            for i in range(k, 9):
                d += V[k, i] * null[c, i]
            for i in range(k, 9):
                null[c, i] -= 2.0 * d * V[k, i]
    return True


@njit(cache=True)
def _five_point(q1, q2, out, work):
    """Essential matrices through five normalised correspondences q1, q2 (5, 2), written to
    out (10, 3, 3); work: scratch of WORK_SIZE. Returns their number k, or -1 for a degenerate
    configuration."""
    At = work[_AT:_V].reshape((9, 5))
    # orthonormal null space of the 5 x 9 epipolar system A: the last four columns of the Q of
    # a Householder QR of A^T (9 x 5)
    for i in range(5):
        for a in range(3):
            h2 = q2[i, a] if a < 2 else 1.0
            At[3 * a, i] = h2 * q1[i, 0]
            At[3 * a + 1, i] = h2 * q1[i, 1]
            At[3 * a + 2, i] = h2
    null = work[_NULL:_E].reshape((4, 9))
    if not _null_space_5x9(At, work[_V:_NULL].reshape((5, 9)), null):
        return -1
    # E_ab as a linear polynomial in (x, y, z): coefficients [x, y, z, 1]
    E = work[_E:_Q].reshape((3, 3, 4))
    for a in range(3):
        for b in range(3):
            for c in range(4):
                E[a, b, c] = null[c, 3 * a + b]
    # the cubic constraints 2 E E^T E - tr(E E^T) E = Q E with Q = 2 E E^T - tr(E E^T) I
    # (quadratic, symmetric), and det E
    Q = work[_Q:_M].reshape((3, 3, 10))
    Q[:] = 0.0
    for a in range(3):
        for b in range(a, 3):
            for c in range(3):
                _mul_lin_lin(E[a, c], E[b, c], 2.0, Q[a, b])
    for d in range(10):
        tr = 0.5 * (Q[0, 0, d] + Q[1, 1, d] + Q[2, 2, d])
        for a in range(3):
            Q[a, a, d] -= tr
            for b in range(a + 1, 3):
                Q[b, a, d] = Q[a, b, d]
    M = work[_M:_COF].reshape((10, 20))
    M[:] = 0.0
    for a in range(3):
        for b in range(3):
            for c in range(3):
                _mul_quad_lin(Q[a, c], E[c, b], M[3 * a + b])
    cof = work[_COF:_B]
    for j in range(3):  # det E = sum_j E_0j cof_0j, cof_0j = E_1,j+1 E_2,j+2 - E_1,j+2 E_2,j+1
        cof[:] = 0.0
        _mul_lin_lin(E[1, (j + 1) % 3], E[2, (j + 2) % 3], 1.0, cof)
        _mul_lin_lin(E[1, (j + 2) % 3], E[2, (j + 1) % 3], -1.0, cof)
        _mul_quad_lin(cof, E[0, j], M[9])
    if not _reduce(M):
        return -1
    # B(z) rows from <e> - z<f>, <g> - z<h>, <i> - z<j>: [x coeffs (4), y coeffs (4),
    # constant coeffs (5)] in increasing powers of z
    B = work[_B:_DET].reshape((3, 3, 5))
    for r in range(3):
        p = M[4 + 2 * r, 10:]
        q = M[5 + 2 * r, 10:]
        B[r, 0, 0] = p[2]
        B[r, 0, 1] = p[1] - q[2]
        B[r, 0, 2] = p[0] - q[1]
        B[r, 0, 3] = -q[0]
        B[r, 0, 4] = 0.0
        B[r, 1, 0] = p[5]
        B[r, 1, 1] = p[4] - q[5]
        B[r, 1, 2] = p[3] - q[4]
        B[r, 1, 3] = -q[3]
        B[r, 1, 4] = 0.0
        B[r, 2, 0] = p[9]
        B[r, 2, 1] = p[8] - q[9]
        B[r, 2, 2] = p[7] - q[8]
        B[r, 2, 3] = p[6] - q[7]
        B[r, 2, 4] = -q[6]
    # det B(z) by cofactors along the first row
    det = work[_DET:_MINOR]
    det[:] = 0.0
    minor = work[_MINOR:_ZS]
    for j in range(3):
        j1 = (j + 1) % 3
        j2 = (j + 2) % 3
        minor[:] = 0.0
        _poly_mul_add(B[1, j1], B[2, j2], 1.0, minor)
        _poly_mul_add(B[1, j2], B[2, j1], -1.0, minor)
        _poly_mul_add(B[0, j], minor, 1.0, det)
    zs = work[_ZS:_ROOTS_WORK]
    nz = _real_roots(det, zs, work[_ROOTS_WORK:])
    k = 0
    for i in range(nz):
        z = zs[i]
        # the null vector of B(z): the largest (in its last entry) cross product of two rows
        b00 = _horner(B[0, 0], 4, z)
        b01 = _horner(B[0, 1], 4, z)
        b02 = _horner(B[0, 2], 4, z)
        b10 = _horner(B[1, 0], 4, z)
        b11 = _horner(B[1, 1], 4, z)
        b12 = _horner(B[1, 2], 4, z)
        b20 = _horner(B[2, 0], 4, z)
        b21 = _horner(B[2, 1], 4, z)
        b22 = _horner(B[2, 2], 4, z)
        v2 = b00 * b11 - b01 * b10
        v0 = b01 * b12 - b02 * b11
        v1 = b02 * b10 - b00 * b12
        w2 = b00 * b21 - b01 * b20
        if abs(w2) > abs(v2):
            v0 = b01 * b22 - b02 * b21
            v1 = b02 * b20 - b00 * b22
            v2 = w2
        w2 = b10 * b21 - b11 * b20
        if abs(w2) > abs(v2):
            v0 = b11 * b22 - b12 * b21
            v1 = b12 * b20 - b10 * b22
            v2 = w2
        if v2 == 0.0:
            continue
        x, y, z = _polish_solution(M, v0 / v2, v1 / v2, z)
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
    """One Gauss-Newton step at (x, y, z) on the six cubic constraints M[4:10] in reduced form
    (leading monomials x^2 z, x^2, y^2 z, y^2, x y z, x y, then M[r, 10:] on Nister's trailing
    x z^2, x z, x, y z^2, y z, y, z^3, z^2, z, 1): the polynomial's root loses digits where
    roots cluster."""
    z2 = z * z
    # trailing monomials and their derivatives
    n00 = n01 = n02 = n11 = n12 = n22 = 0.0
    g0 = g1 = g2 = 0.0
    for r in range(4, 10):
        c = M[r]
        f = (c[10] * x * z2 + c[11] * x * z + c[12] * x + c[13] * y * z2 + c[14] * y * z
             + c[15] * y + c[16] * z2 * z + c[17] * z2 + c[18] * z + c[19])
        fx = c[10] * z2 + c[11] * z + c[12]
        fy = c[13] * z2 + c[14] * z + c[15]
        fz = (2.0 * (c[10] * x + c[13] * y) * z + c[11] * x + c[14] * y + 3.0 * c[16] * z2
              + 2.0 * c[17] * z + c[18])
        if r == 4:  # x^2 z
            f += x * x * z
            fx += 2.0 * x * z
            fz += x * x
        elif r == 5:  # x^2
            f += x * x
            fx += 2.0 * x
        elif r == 6:  # y^2 z
            f += y * y * z
            fy += 2.0 * y * z
            fz += y * y
        elif r == 7:  # y^2
            f += y * y
            fy += 2.0 * y
        elif r == 8:  # x y z
            f += x * y * z
            fx += y * z
            fy += x * z
            fz += x * y
        else:  # x y
            f += x * y
            fx += y
            fy += x
        n00 += fx * fx
        n01 += fx * fy
        n02 += fx * fz
        n11 += fy * fy
        n12 += fy * fz
        n22 += fz * fz
        g0 += fx * f
        g1 += fy * f
        g2 += fz * f
    # solve N d = g by Cramer's rule (N symmetric: the cofactor matrix is its adjugate)
    c00 = n11 * n22 - n12 * n12
    c01 = n12 * n02 - n01 * n22
    c02 = n01 * n12 - n11 * n02
    c11 = n00 * n22 - n02 * n02
    c12 = n01 * n02 - n00 * n12
    c22 = n00 * n11 - n01 * n01
    det = n00 * c00 + n01 * c01 + n02 * c02
    if det == 0.0 or not np.isfinite(det):
        return x, y, z
    d0 = (c00 * g0 + c01 * g1 + c02 * g2) / det
    d1 = (c01 * g0 + c11 * g1 + c12 * g2) / det
    d2 = (c02 * g0 + c12 * g1 + c22 * g2) / det
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
    """Sign changes of the Sturm sequence S (rows, increasing powers) at x (+-inf: those of
    the leading coefficients times sign(x)^degree)."""
    changes = 0
    last = 0.0
    finite = abs(x) < np.inf
    for i in range(count):
        d = int(degs[i])
        if finite:
            v = _horner(S[i], d, x)
        else:
            v = S[i, d] if d % 2 == 0 or x > 0.0 else -S[i, d]
        if v != 0.0:
            if last != 0.0 and (v > 0.0) != (last > 0.0):
                changes += 1
            last = v
    return changes


@njit(cache=True)
def _real_roots(c, roots, work):
    """Distinct real roots of the polynomial c (increasing powers, degree <= 10) into roots;
    returns their number. work: scratch of _ROOTS_WORK_SIZE. Sturm-sequence isolation, then
    safeguarded Newton (bisection fallback)."""
    scale = 0.0
    for d in range(c.shape[0]):
        scale = max(scale, abs(c[d]))
    if scale == 0.0:
        return 0
    deg = c.shape[0] - 1
    while deg > 0 and abs(c[deg]) <= 1e-14 * scale:
        deg -= 1
    if deg == 0:
        return 0
    S = work[:121].reshape((11, 11))  # the Sturm sequence, rows in increasing powers
    degs = work[121:132]
    a = work[132:143]
    stack = work[143:399].reshape((64, 4))  # (lo, hi, changes at lo, changes at hi)
    lead = c[deg]
    for d in range(deg + 1):
        S[0, d] = c[d] / abs(lead)
    degs[0] = deg
    for d in range(1, deg + 1):
        S[1, d - 1] = d * c[d] / abs(lead * deg)
    degs[1] = deg - 1
    count = 2
    while count <= deg and degs[count - 1] > 0:
        da = int(degs[count - 2])
        db = int(degs[count - 1])
        for j in range(da + 1):
            a[j] = S[count - 2, j]
        b = S[count - 1]
        inv = 1.0 / b[db]
        for top in range(da, db - 1, -1):
            f = a[top] * inv
            for j in range(db + 1):
                a[top - db + j] -= f * b[j]
        rs = 0.0
        for j in range(db):
            rs = max(rs, abs(a[j]))
        dr = db - 1
        while dr >= 0 and abs(a[dr]) <= 1e-13 * max(rs, 1e-300):
            dr -= 1
        if dr < 0:
            break  # a repeated root: the sequence ends early (its count stays valid)
        inv = -1.0 / abs(a[dr])
        for j in range(dr + 1):
            S[count, j] = a[j] * inv
        degs[count] = dr
        count += 1
    # Fujiwara's bound 2 max_k |c_(deg-k) / lead|^(1/k) (the constant term's halved) on the
    # magnitude of the roots; a root is taken only where it raises the maximum
    bound = 0.0
    power = 1.0  # bound^(k - 1)
    for k in range(1, deg + 1):
        e = abs(c[deg - k] / lead)
        if k == deg:
            e /= 2.0
        power *= bound
        if e > power:
            bound = e if k == 1 else e ** (1.0 / k)
            power = e
    bound = 2.0 * bound * (1.0 + 1e-12) + 1e-300
    # interval stack: roots in (lo, hi] = changes(lo) - changes(hi); no root lies beyond the
    # bound, where the changes are those at infinity
    top = 0
    stack[0, 0] = -bound
    stack[0, 1] = bound
    stack[0, 2] = _sign_changes(S, degs, count, -np.inf)
    stack[0, 3] = _sign_changes(S, degs, count, np.inf)
    n = 0
    while top >= 0:
        lo = stack[top, 0]
        hi = stack[top, 1]
        clo = stack[top, 2]
        chi = stack[top, 3]
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
        stack[top, 0] = lo
        stack[top, 1] = mid
        stack[top, 2] = clo
        stack[top, 3] = cmid
        top += 1
        stack[top, 0] = mid
        stack[top, 1] = hi
        stack[top, 2] = cmid
        stack[top, 3] = chi
    return n


@njit(cache=True)
def _polish(c, deg, lo, hi):
    """The root of c in (lo, hi] (a sign change, or a tiny interval): Newton steps, or a
    bisection where Newton would leave the bracket or not halve the step (Numerical Recipes'
    rtsafe)."""
    flo = _horner(c, deg, lo)
    fhi = _horner(c, deg, hi)
    if flo == 0.0:
        return lo
    if fhi == 0.0 or (flo > 0.0) == (fhi > 0.0):
        return hi if abs(fhi) < abs(flo) else lo
    x = 0.5 * (lo + hi)
    dx_old = hi - lo
    dx = dx_old
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
        if ((x - hi) * df - f) * ((x - lo) * df - f) > 0.0 or abs(2.0 * f) > abs(dx_old * df):
            dx_old = dx
            dx = 0.5 * (hi - lo)
            x = lo + dx
        else:
            dx_old = dx
            dx = f / df
            x -= dx
        if abs(dx) <= 1e-11 * (1.0 + abs(x)):
            return x
    return x
