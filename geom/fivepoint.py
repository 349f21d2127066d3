"""Five-point relative pose: the essential matrices consistent with five calibrated correspondences.

Stewenius' Groebner-basis form of Nister's solver. Five correspondences in normalised image
coordinates (`K^-1 x`, see `geom.camera.normalize_points`) leave a four-dimensional null space
`E = x X + y Y + z Z + W` of the epipolar constraints `q2^T E q1 = 0`. The ten cubic constraints
`det E = 0` and `2 E E^T E - tr(E E^T) E = 0` are linear in the twenty monomials of degree <= 3
in (x, y, z); Gauss-Jordan elimination of the ten cubic monomials expresses them in the basis
{x^2, xy, y^2, xz, yz, z^2, x, y, z, 1}, which gives the 10 x 10 matrix of multiplication by x.
Its real eigenvectors are the basis monomials evaluated at the (at most ten) real solutions.

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
    basis = [(2, 0, 0), (1, 1, 0), (0, 2, 0), (1, 0, 1), (0, 1, 1), (0, 0, 2),
             (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)]
    cubic = [(3, 0, 0), (2, 1, 0), (1, 2, 0), (0, 3, 0), (2, 0, 1), (1, 1, 1), (0, 2, 1),
             (1, 0, 2), (0, 1, 2), (0, 0, 3)]
    all20 = cubic + basis  # the ten cubic monomials first: they are eliminated

    def add(a, b):
        return tuple(i + j for i, j in zip(a, b))

    lin_lin = np.array([[basis.index(add(a, b)) for b in linear] for a in linear], np.int64)
    quad_lin = np.array([[all20.index(add(a, b)) for b in linear] for a in basis], np.int64)
    times_x = np.array([all20.index(add(a, (1, 0, 0))) for a in basis], np.int64)
    return lin_lin, quad_lin, times_x


_LIN_LIN, _QUAD_LIN, _TIMES_X = _tables()


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
        M[c] /= M[c, c]
        for r in range(n):
            if r != c and M[r, c] != 0.0:
                M[r] -= M[r, c] * M[c]
    return True


@njit(cache=True)
def _five_point(q1, q2, out):
    """Essential matrices through five normalised correspondences q1, q2 (5, 2), written to
    out (10, 3, 3). Returns their number k, or -1 for a degenerate configuration."""
    A = np.zeros((9, 9))
    for i in range(5):
        h1 = (q1[i, 0], q1[i, 1], 1.0)
        h2 = (q2[i, 0], q2[i, 1], 1.0)
        for a in range(3):
            for b in range(3):
                A[i, 3 * a + b] = h2[a] * h1[b]
    _, s, Vt = np.linalg.svd(A)
    if s[4] <= 1e-10 * s[0]:
        return -1
    # E_ab as a linear polynomial in (x, y, z): coefficients [x, y, z, 1]
    E = np.empty((3, 3, 4))
    for a in range(3):
        for b in range(3):
            for c in range(4):
                E[a, b, c] = Vt[5 + c, 3 * a + b]
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
        _mul_quad_lin(cof - tmp, E[0, j], M[9], 1.0)
    # eliminate the cubic monomials: cubic_m = -C[m] . basis
    if not _gauss_jordan(M):
        return -1
    C = M[:, 10:]
    # action matrix of multiplication by x on the basis monomials
    act = np.zeros((10, 10), dtype=np.complex128)
    for i in range(10):
        m = _TIMES_X[i]
        if m < 10:
            for j in range(10):
                act[i, j] = -C[m, j]
        else:
            act[i, m - 10] = 1.0
    w, V = np.linalg.eig(act)
    k = 0
    for i in range(10):
        if abs(w[i].imag) > 1e-8 * (1.0 + abs(w[i].real)):
            continue
        v9 = V[9, i]
        if abs(v9) < 1e-14:
            continue
        x = (V[6, i] / v9).real
        y = (V[7, i] / v9).real
        z = (V[8, i] / v9).real
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
