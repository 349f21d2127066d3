"""Plane-induced homographies between two images: normalised DLT and transfer errors.

Conventions (DESIGN.md): pixels (N, 2) float64, x right, y down, origin at the centre of the
top-left pixel. A homography `H` (3, 3) maps image 1 to image 2: `x2 ~ H [x1, 1]`. Estimated
homographies are returned at unit Frobenius norm with `H[2, 2] >= 0` (not `H[2, 2] = 1`, which
breaks down when H sends the pixel origin to infinity).

Robust estimation (RANSAC over the 4-point DLT) is `geom.robust.estimate_homography`.
"""
import numpy as np
from numba import njit

from . import _checks
from ._linalg import _normalizer


def homography_dlt(x1, x2):
    """Least-squares homography from N >= 4 correspondences (Hartley-normalised DLT).

    x1, x2: (N, 2) pixels in images 1 and 2. Returns H (3, 3), unit Frobenius norm,
    `H[2, 2] >= 0`, minimising the algebraic error `|x2 x (H x1)|` in normalised coordinates.
    Raises ValueError when the points do not determine H (all coincident, or fewer than four
    in general position, e.g. all on one line).
    """
    x1, x2 = _checks.point_pairs(x1, x2, min_count=4)
    H = _homography_dlt(x1, x2)
    if not np.any(H):
        raise ValueError("x1, x2: degenerate configuration (points coincident or collinear), "
                         "H is not determined")
    return H


def transfer_error(H, x1, x2):
    """One-sided transfer error (N,) in pixels of image 2: `|x2 - pi(H x1)|`.

    Points that H maps to infinity get `inf`.
    """
    H = _checks.matrix3(H, "H")
    x1, x2 = _checks.point_pairs(x1, x2)
    out = np.empty(x1.shape[0])
    _transfer_error(H, x1, x2, out)
    return out


def symmetric_transfer_error(H, x1, x2):
    """Symmetric transfer error (N,) in pixels: the mean of `|x2 - pi(H x1)|` (in image 2) and
    `|x1 - pi(H^-1 x2)|` (in image 1). Raises ValueError for a singular H."""
    H = _checks.matrix3(H, "H")
    x1, x2 = _checks.point_pairs(x1, x2)
    s = np.linalg.svd(H, compute_uv=False)
    if s[2] <= 1e-12 * s[0]:
        raise ValueError("H: singular homography has no inverse")
    forward = np.empty(x1.shape[0])
    backward = np.empty(x1.shape[0])
    _transfer_error(H, x1, x2, forward)
    _transfer_error(np.ascontiguousarray(np.linalg.inv(H)), x2, x1, backward)
    return 0.5 * (forward + backward)


# ---------------------------------------------------------------------------- kernels

@njit(cache=True)
def _homography_dlt(x1, x2):
    """Normalised DLT on contiguous float64 (N, 2) arrays, N >= 4. Returns H (3, 3) at unit norm
    with H[2, 2] >= 0, or a zero matrix when the configuration is degenerate."""
    H = np.zeros((3, 3))
    if not _homography_dlt_into(x1, x2, np.ones(x1.shape[0]), H):
        H[:] = 0.0
    return H


@njit(cache=True)
def _homography_dlt_into(x1, x2, w, H):
    """Weighted normalised DLT (weights w (N,) >= 0) into H; returns False when degenerate
    (coincident or collinear points, or a null space of dimension > 1)."""
    s1, a1, b1 = _normalizer(x1, w)
    s2, a2, b2 = _normalizer(x2, w)
    if s1 == 0.0 or s2 == 0.0:  # coincident points
        return False
    AtA = np.zeros((9, 9))
    r = np.empty(9)
    for i in range(x1.shape[0]):
        u = s1 * x1[i, 0] + a1
        v = s1 * x1[i, 1] + b1
        p = s2 * x2[i, 0] + a2
        q = s2 * x2[i, 1] + b2
        # two rows of the DLT system: [0, -x1, q x1] and [x1, 0, -p x1]
        for row in range(2):
            if row == 0:
                r[0] = 0.0; r[1] = 0.0; r[2] = 0.0
                r[3] = -u; r[4] = -v; r[5] = -1.0
                r[6] = q * u; r[7] = q * v; r[8] = q
            else:
                r[0] = u; r[1] = v; r[2] = 1.0
                r[3] = 0.0; r[4] = 0.0; r[5] = 0.0
                r[6] = -p * u; r[7] = -p * v; r[8] = -p
            for a in range(9):
                ra = w[i] * r[a]
                for b in range(a, 9):
                    AtA[a, b] += ra * r[b]
    for a in range(9):
        for b in range(a):
            AtA[a, b] = AtA[b, a]
    evals, V = np.linalg.eigh(AtA)
    # a one-dimensional null space is needed: the second-smallest eigenvalue must stand clear
    if evals[1] <= 1e-10 * evals[8]:
        return False
    Hn = np.empty((3, 3))
    for a in range(3):
        for b in range(3):
            Hn[a, b] = V[3 * a + b, 0]
    # undo the normalisation: H = T2^-1 Hn T1
    T1 = np.array([[s1, 0.0, a1], [0.0, s1, b1], [0.0, 0.0, 1.0]])
    T2inv = np.array([[1.0 / s2, 0.0, -a2 / s2], [0.0, 1.0 / s2, -b2 / s2], [0.0, 0.0, 1.0]])
    H[:] = T2inv @ Hn @ T1
    H /= np.sqrt(np.sum(H * H))
    if H[2, 2] < 0:
        H *= -1.0
    return True


@njit(cache=True)
def _transfer_error(H, x1, x2, out):
    """out[i] = |x2[i] - pi(H x1[i])| in pixels (inf where H x1[i] lies at infinity)."""
    for i in range(x1.shape[0]):
        out[i] = _transfer_distance(H, x1, x2, i)


@njit(cache=True, inline="always")
def _transfer_distance(H, x1, x2, i):
    """|x2[i] - pi(H x1[i])| in pixels, H its first three columns (inf at infinity)."""
    u = H[0, 0] * x1[i, 0] + H[0, 1] * x1[i, 1] + H[0, 2]
    v = H[1, 0] * x1[i, 0] + H[1, 1] * x1[i, 1] + H[1, 2]
    w = H[2, 0] * x1[i, 0] + H[2, 1] * x1[i, 1] + H[2, 2]
    if w == 0.0:
        return np.inf
    return np.sqrt((u / w - x2[i, 0]) ** 2 + (v / w - x2[i, 1]) ** 2)
