"""Mode of a one-dimensional kernel density estimate: robust location by kernel density voting.

The multi-body pipeline uses it on log-ratios of monocular to triangulated depth, where a
fraction of the values are outliers (wrong matches, depth-network errors at edges): the mode of
a Gaussian KDE ignores them where the mean and even the median drift.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from . import _checks

GRID = 256  # grid evaluations before the mean-shift polish


class KDEMode(NamedTuple):
    """Result of `kde_mode`.

    mode: the location of the highest density peak. bandwidth: the Gaussian kernel's standard
    deviation used. support: fraction of the values within one bandwidth of the mode (how much
    of the data votes for it). peak_ratio: density of the second highest local maximum over
    the highest, in [0, 1] (0: a single peak; near 1: two peaks as likely, the mode is
    ambiguous).
    """

    mode: float
    bandwidth: float
    support: float
    peak_ratio: float


def silverman_bandwidth(values):
    """Silverman's robust rule of thumb `0.9 min(std, IQR / 1.34) n^(-1/5)` of values (N,),
    N >= 2; when that is 0 (over half the values equal), the std rule; > 0 unless all equal."""
    v = _checks.array(values, "values", (None,))
    if v.size < 2:
        raise ValueError(f"values: need at least 2 values, got {v.size}")
    q75, q25 = np.percentile(v, [75, 25])
    spread = min(v.std(), (q75 - q25) / 1.34) or v.std()
    return 0.9 * spread * v.size ** -0.2


def kde_mode(values, bandwidth=None):
    """Mode of the Gaussian kernel density estimate of values (N,), N >= 2.

    bandwidth: kernel standard deviation (> 0), default `silverman_bandwidth(values)` (the robust
    Silverman rule: the inter-quartile range keeps outliers from widening it). The density is
    evaluated on a grid of `GRID` points spanning the values (step at most half the bandwidth),
    then the best grid point is polished by mean-shift iterations to the exact local maximum.
    Returns a `KDEMode`; all values equal give that value, support 1, peak_ratio 0.
    """
    v = _checks.array(values, "values", (None,))
    if v.size < 2:
        raise ValueError(f"values: need at least 2 values, got {v.size}")
    h = silverman_bandwidth(v) if bandwidth is None else _checks.positive(bandwidth, "bandwidth")
    if h == 0.0:
        return KDEMode(float(v[0]), 0.0, 1.0, 0.0)
    lo, hi = v.min(), v.max()
    n_grid = max(GRID, int(np.ceil(2 * (hi - lo) / h)) + 1)
    grid = np.linspace(lo, hi, n_grid)
    mode, peak_ratio = _mode_kernel(np.sort(v), grid, h)
    support = float(np.mean(np.abs(v - mode) <= h))
    return KDEMode(float(mode), float(h), support, float(peak_ratio))


@njit(cache=True)
def _density(v, x, h):
    s = 0.0
    for k in range(v.size):
        d = (v[k] - x) / h
        if d * d < 50.0:
            s += np.exp(-0.5 * d * d)
    return s


@njit(cache=True)
def _mode_kernel(v, grid, h):
    m = grid.size
    dens = np.empty(m)
    for g in range(m):
        dens[g] = _density(v, grid[g], h)
    best = 0
    for g in range(1, m):
        if dens[g] > dens[best]:
            best = g
    second = 0.0  # highest other local maximum
    for g in range(m):
        left = dens[g - 1] if g > 0 else -1.0
        right = dens[g + 1] if g < m - 1 else -1.0
        if g != best and dens[g] > left and dens[g] >= right and abs(g - best) > 1:
            second = max(second, dens[g])
    x = grid[best]
    for _ in range(100):  # mean shift: converges to the local maximum of the Gaussian KDE
        num = 0.0
        den = 0.0
        for k in range(v.size):
            d = (v[k] - x) / h
            if d * d < 50.0:
                w = np.exp(-0.5 * d * d)
                num += w * v[k]
                den += w
        step = num / den - x
        x += step
        if abs(step) < 1e-10 * h:
            break
    return x, second / dens[best]
