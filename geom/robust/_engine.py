"""The RANSAC loop: sampling, scoring, local optimisation, adaptive stopping, final refit.

One kernel serves every model kind of `_models` (and the multi-model fitting built on it).

- Sampling: uniform, or PROSAC (Chum & Matas 2005) when the data come sorted by decreasing
  match quality: samples are drawn from a growing prefix, reaching uniform sampling after
  the schedule's `max_iterations`.
- Scoring (higher is better), with T the threshold:
  MSAC, the truncated quadratic: sum over points of `max(0, 1 - r^2 / (2T)^2)`. Its reach is
  twice the inlier threshold: on real matches the true residuals have a tail beyond T, and
  cut at T a wrong-epipole F fitting a dominant plane tightly outscores the right one (CMP
  `box`: 58 % of the matches on a plane; right F in 3 of 10 seeds with reach T, 8 with 2T);
  MAGSAC (MAGSAC++-style): the noise scale is unknown and marginalised over sigma uniform in
  (0, sigma_max], sigma_max = T / 2. For a 2-dof Gaussian residual the marginal density of r is
  `sqrt(pi / 2) / sigma_max * erfc(r / (sqrt(2) sigma_max))`; each point contributes that
  density, truncated at T and rescaled to [0, 1]. Its values double as the IRLS weights of the
  local optimisation.
- Verification by SPRT (Chum & Matas 2008, 'Optimal randomized RANSAC'): the data are
  shuffled once; a model's residuals are computed point by point while Wald's likelihood ratio
  of 'bad model' (inlier ratio delta) against 'good model' (inlier ratio epsilon, that of the
  best model so far) grows; the model is dropped once it exceeds the threshold A, about 15
  points for a wrong model instead of all N. delta is the pooled inlier ratio of the dropped
  models; A solves A = t_M C / m_S + 1 + log A (t_M, m_S: a minimal solve's cost in residual
  evaluations and its models per sample, `_models.SOLVE_COST`, `MODELS_PER_SAMPLE`; C the
  expected log-likelihood gain per point of a wrong model) and is recomputed when epsilon or
  delta change. A good model is dropped with probability <= 1/A, which the stopping rule counts.
- Local optimisation (LO-RANSAC, Lebeda et al. 2012): on each so-far-best model, iterated
  (weighted) least squares on the points within a threshold shrinking from 3T to T.
- Adaptive stopping: `log(1 - confidence) / log(1 - w^m (1 - 1/A))` iterations, w the inlier ratio
  of the best model within the score's reach (2T for MSAC: counting at T misses the true
  matches' tail, a sixth of them at 0.5 px noise and T = 1 px, and overruns by (6/5)^m), m the
  sample size, at most max_iterations; with PROSAC also from the inlier ratio of the prefix
  drawn from (PROSAC's maximality criterion), whichever stops first.
- DEGENSAC (Chum, Werner & Matas 2005) for the fundamental matrix (`degensac`; compiled for
  that kind alone): a so-far-best F whose
  seven-point sample has five or more points on a homography is re-estimated by
  plane-and-parallax (two points off the plane fix the epipole; F = [e']x H).
- Final refit on all inliers at T (kept if it scores better).
"""
import math

import numpy as np
from numba import literally, njit
from numba.extending import overload

from ._models import (FUNDAMENTAL, MAX_MODELS, MINIMAL_WORK, MODELS_PER_SAMPLE, SOLVE_COST,
                      _kernel, _minimal, _refit, _residual, _sample_ok, min_refit_size,
                      sample_size)
from ..homography import _homography_dlt_into, _transfer_error
from ..rotation import _skew_into

MSAC, MAGSAC = 0, 1
_LO_STEPS = 4
_LO_MULTIPLIER = 3.0
_SPRT_DELTA = 0.01  # initial inlier ratio of a wrong model
_SPRT_EPSILON = 0.1  # inlier ratio of a good model before one is found
# SPRT state, a float64 array: log A, the log-likelihood ratio steps of an inlier and of an
# outlier, then the points tested and the inliers seen by the last test
_LOG_A, _STEP_IN, _STEP_OUT, _TESTED, _CONSISTENT = 0, 1, 2, 3, 4
_MSAC_REACH = 2.0


@njit(cache=True)
def _point_quality(r, T, scoring):
    """A point's contribution in [0, 1] to a model's quality (see the module docstring)."""
    if scoring == MSAC:
        if not r < _MSAC_REACH * T:
            return 0.0
        return 1.0 - (r * r) / (_MSAC_REACH * _MSAC_REACH * T * T)
    if not r < T:
        return 0.0
    s = T / 2.0
    c = math.erfc(math.sqrt(2.0))  # density at r = T
    return (math.erfc(r / (math.sqrt(2.0) * s)) - c) / (1.0 - c)


@njit(cache=True)
def _score(kind, model, A, B, calib, T, scoring, sprt, r):
    """Quality of `model` on all points, residuals into r. Returns -1 when the SPRT `sprt` (see
    `_sprt_state`; log A = inf disables it) drops the model."""
    literally(kind)
    n = A.shape[0]
    log_a = sprt[_LOG_A]
    step_in = sprt[_STEP_IN]
    step_out = sprt[_STEP_OUT]
    llr = 0.0
    inliers = 0
    for i in range(n):
        r[i] = _residual(kind, model, A, B, i, calib)
        if r[i] < T:
            llr += step_in
            inliers += 1
        else:
            llr += step_out
            if llr > log_a:
                sprt[_TESTED] = i + 1
                sprt[_CONSISTENT] = inliers
                return -1.0
    q = 0.0
    for i in range(n):
        q += _point_quality(r[i], T, scoring)
    return q


@njit(cache=True)
def _sprt_state(kind, epsilon, delta, sprt):
    """Fill sprt's threshold and steps for a good model's inlier ratio epsilon and a wrong
    one's delta (no test where they cannot be told apart)."""
    sprt[_LOG_A] = np.inf
    sprt[_STEP_IN] = 0.0
    sprt[_STEP_OUT] = 0.0
    if not (0.0 < delta < 0.5 * epsilon and epsilon < 1.0):
        return
    step_in = math.log(delta / epsilon)
    step_out = math.log((1.0 - delta) / (1.0 - epsilon))
    c = (1.0 - delta) * step_out + delta * step_in
    k = SOLVE_COST[kind] * c / MODELS_PER_SAMPLE[kind] + 1.0
    a = k
    for _ in range(10):
        a = k + math.log(a)
    sprt[_LOG_A] = math.log(a)
    sprt[_STEP_IN] = step_in
    sprt[_STEP_OUT] = step_out


@njit(cache=True)
def _finite(model):
    for i in range(model.shape[0]):
        for j in range(model.shape[1]):
            if not np.isfinite(model[i, j]):
                return False
    return True


@njit(cache=True)
def _count_inliers(r, T):
    c = 0
    for i in range(r.shape[0]):
        if r[i] < T:
            c += 1
    return c


@njit(cache=True)
def _iterations_needed(inliers, n, m, confidence, log_a):
    """Samples needed to draw an all-inlier one that SPRT (threshold exp(log_a)) keeps."""
    w = inliers / n
    p = w ** m * (1.0 - math.exp(-log_a))
    if p >= 1.0:
        return 0
    if p <= 0.0:
        return 2 ** 62
    return int(math.ceil(math.log(1.0 - confidence) / math.log(1.0 - p)))


@njit(cache=True)
def _draw(k, m, idx):
    """m distinct indices from range(k) into idx[:m] (rejection sampling)."""
    i = 0
    while i < m:
        c = np.random.randint(0, k)
        dup = False
        for j in range(i):
            if idx[j] == c:
                dup = True
                break
        if not dup:
            idx[i] = c
            i += 1


@njit(cache=True)
def _local_optimisation(kind, A, B, calib, T, scoring, model, score, r, multiplier, steps):
    """Iterated weighted least squares from `model` (residuals r) over thresholds shrinking from
    multiplier * T to T. Replaces model, r by the best scoring refit; returns the best score."""
    n = A.shape[0]
    cur = model.copy()
    cur_r = r.copy()
    r_new = np.empty(n)
    sub_a = np.empty_like(A)
    sub_b = np.empty_like(B)
    w = np.empty(n)
    no_sprt = np.zeros(5)
    no_sprt[_LOG_A] = np.inf
    best = score
    for step in range(steps):
        thr = T * (multiplier - (multiplier - 1.0) * step / max(steps - 1, 1))
        k = 0
        for i in range(n):
            if cur_r[i] < thr:
                sub_a[k] = A[i]
                sub_b[k] = B[i]
                w[k] = _point_quality(cur_r[i], thr, scoring) if scoring == MAGSAC else 1.0
                k += 1
        if k < min_refit_size(kind):
            break
        if not _refit(kind, sub_a[:k], sub_b[:k], w[:k], calib, cur):
            break
        if not np.all(np.isfinite(cur)):
            break
        s = _score(kind, cur, A, B, calib, T, scoring, no_sprt, r_new)
        cur_r[:] = r_new
        if s > best:
            best = s
            model[:] = cur
            r[:] = r_new
    return best


@njit(cache=True)
def _epipole2(F):
    """Left epipole e2 (3,) of F (F^T e2 = 0), unit norm."""
    U, _, _ = np.linalg.svd(F)
    return U[:, 2].copy()


@njit(cache=True)
def _homography_from_f(F, e2, x1, x2, idx, H):
    """Homography compatible with F through three correspondences idx (Hartley & Zisserman
    13.6): H = A - e2 (M^-1 b)^T with A = [e2]x F. False when the three points are degenerate."""
    S = np.empty((3, 3))
    _skew_into(e2, S)
    A = S @ F
    M = np.empty((3, 3))
    bv = np.empty(3)
    for k in range(3):
        i = idx[k]
        p1 = np.array([x1[i, 0], x1[i, 1], 1.0])
        p2 = np.array([x2[i, 0], x2[i, 1], 1.0])
        M[k] = p1
        c1 = np.cross(p2, A @ p1)
        c2 = np.cross(p2, e2)
        den = np.sum(c2 * c2)
        if den <= 1e-300:
            return False
        bv[k] = np.sum(c1 * c2) / den
    if abs(np.linalg.det(M)) <= 1e-12 * np.abs(M).max() ** 3:
        return False
    v = np.linalg.solve(M, bv)
    for i in range(3):
        for j in range(3):
            H[i, j] = A[i, j] - e2[i] * v[j]
    return True


_DEGENSAC_ITERATIONS = 100
_DEGENSAC_TRIPLETS = np.array([[0, 1, 2], [3, 4, 5], [0, 1, 6], [3, 4, 6], [2, 5, 6]], np.int64)


@njit(cache=True)
def _degensac(A, B, calib, T, scoring, sample, model, score, r, sprt):
    """If the seven-point sample of `model` is H-degenerate (five or more of its points on a
    homography compatible with F), try `_DEGENSAC_ITERATIONS` plane-and-parallax F's from two
    off-plane points. Replaces model, r with a better one; returns the best score."""
    F = np.ascontiguousarray(model[:, :3])
    e2 = _epipole2(F)
    Sa = np.empty((7, 2))
    Sb = np.empty((7, 2))
    for k in range(7):
        Sa[k] = A[sample[k]]
        Sb[k] = B[sample[k]]
    H = np.empty((3, 3))
    err = np.empty(7)
    found = False
    for tr in range(_DEGENSAC_TRIPLETS.shape[0]):
        if not _homography_from_f(F, e2, Sa, Sb, _DEGENSAC_TRIPLETS[tr], H):
            continue
        _transfer_error(H, Sa, Sb, err)
        if _count_inliers(err, T) >= 5:
            found = True
            break
    if not found:
        return score
    n = A.shape[0]
    herr = np.empty(n)
    _transfer_error(H, A, B, herr)
    # the plane's H from its inliers (the sample's F gives only a rough one)
    on = herr < T
    if on.sum() >= 8:
        if not _homography_dlt_into(A[on], B[on], np.ones(on.sum()), H):
            return score
        _transfer_error(H, A, B, herr)
    off = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        if herr[i] >= T:
            off[k] = i
            k += 1
    if k < 2:
        return score
    best = score
    cand = np.zeros((3, 4))
    r_new = np.empty(n)
    idx = np.empty(2, np.int64)
    S = np.empty((3, 3))
    for _ in range(_DEGENSAC_ITERATIONS):
        _draw(k, 2, idx)
        l = np.empty((2, 3))
        for j in range(2):
            i = off[idx[j]]
            p1 = np.array([A[i, 0], A[i, 1], 1.0])
            p2 = np.array([B[i, 0], B[i, 1], 1.0])
            l[j] = np.cross(H @ p1, p2)
        e = np.cross(l[0], l[1])
        ne = np.sqrt(np.sum(e * e))
        if ne == 0.0:
            continue
        _skew_into(e / ne, S)
        Fc = S @ H
        Fc /= np.sqrt(np.sum(Fc * Fc))
        cand[:, :3] = Fc
        s = _score(FUNDAMENTAL, cand, A, B, calib, T, scoring, sprt, r_new)
        if s > best:
            best = s
            model[:] = cand
            r[:] = r_new
    return best


@njit(cache=True)
def _no_degeneracy_check(A, B, calib, T, scoring, sample, model, score, r, sprt):
    return score


def _plane_and_parallax(kind, A, B, calib, T, scoring, sample, model, score, r, sprt):
    """DEGENSAC's check of a so-far-best model (`_degensac`) for the fundamental matrix; the
    score unchanged for the other kinds."""


@overload(_plane_and_parallax, prefer_literal=True)
def _plane_and_parallax_of_kind(kind, A, B, calib, T, scoring, sample, model, score, r, sprt):
    kernel = _kernel((_degensac, _no_degeneracy_check, _no_degeneracy_check,
                      _no_degeneracy_check), kind)
    if kernel is not None:
        return (lambda kind, A, B, calib, T, scoring, sample, model, score, r, sprt:
                kernel(A, B, calib, T, scoring, sample, model, score, r, sprt))


@njit(cache=True)
def _prosac_initial(n, m, max_iterations):
    """T_n of PROSAC's growth function for the first prefix n = m."""
    t = float(max_iterations)
    for i in range(m):
        t *= (m - i) / (n - i)
    return t


@njit(cache=True)
def ransac(kind, a, b, calib, threshold, confidence, max_iterations, scoring, prosac,
           local_optimisation, degensac, seed, model_out, mask_out):
    """Robustly fit one model of `kind` to the correspondences a (N, da), b (N, 2).

    calib: [K1, K2, K1^-1, K2^-1] (4, 3, 3). threshold: inlier threshold in pixels. prosac: the rows are sorted by
    decreasing quality. Writes the best model into model_out (3, 4) and the inliers
    (r < threshold) into mask_out (N,) bool. Returns (found, score, iterations); found is False
    when no sample gave a usable model. `kind` must be a compile-time constant: each kind
    compiles its own kernel (`_models`); Python calls the kernel of `ransac_for(kind)`."""
    literally(kind)
    n = a.shape[0]
    m = sample_size(kind)
    np.random.seed(seed)
    perm = np.arange(n) if prosac else np.random.permutation(n)
    A = np.empty_like(a)
    B = np.empty_like(b)
    for i in range(n):
        A[i] = a[perm[i]]
        B[i] = b[perm[i]]
    Sa = np.empty((m, A.shape[1]))
    Sb = np.empty((m, 2))
    idx = np.empty(m, np.int64)
    models = np.zeros((MAX_MODELS, 3, 4))
    work = np.empty(MINIMAL_WORK)
    r = np.empty(n)
    best_r = np.empty(n)
    best = np.zeros((3, 4))
    best_score = -1.0
    found = False
    needed = max_iterations
    # SPRT: the good model's inlier ratio, the pooled inlier ratio of the dropped models and the
    # delta the current test was built for
    sprt = np.zeros(5)
    epsilon = _SPRT_EPSILON
    dropped_tested = 0.0
    dropped_consistent = 0.0
    delta = _SPRT_DELTA
    _sprt_state(kind, epsilon, delta, sprt)
    # PROSAC schedule
    sub = m
    tn = _prosac_initial(n, m, max_iterations)
    tn_prime = 1.0
    it = 0
    while it < min(needed, max_iterations):
        it += 1
        if prosac and it > tn_prime and sub < n:
            sub += 1
            tn_next = tn * sub / (sub - m)
            tn_prime += math.ceil(tn_next - tn)
            tn = tn_next
        if prosac and it <= tn_prime and sub < n:
            _draw(sub - 1, m - 1, idx)
            idx[m - 1] = sub - 1
        else:
            _draw(n, m, idx)
        for j in range(m):
            Sa[j] = A[idx[j]]
            Sb[j] = B[idx[j]]
        if not _sample_ok(kind, Sa, Sb):
            continue
        k = _minimal(kind, Sa, Sb, calib, models, work)
        for j in range(k):
            if not _finite(models[j]):
                continue
            s = _score(kind, models[j], A, B, calib, threshold, scoring, sprt, r)
            if s < 0.0:  # dropped by SPRT: update delta, rebuild the test when it moved
                dropped_tested += sprt[_TESTED]
                dropped_consistent += sprt[_CONSISTENT]
                d = max(dropped_consistent / dropped_tested, 1e-4)
                if abs(d - delta) > 0.1 * delta:
                    delta = d
                    _sprt_state(kind, epsilon, delta, sprt)
                continue
            if s <= best_score:
                continue
            found = True
            best[:] = models[j]
            best_score = s
            best_r[:] = r
            if degensac:
                best_score = _plane_and_parallax(kind, A, B, calib, threshold, scoring, idx,
                                                 best, best_score, best_r, sprt)
            if local_optimisation:
                best_score = _local_optimisation(kind, A, B, calib, threshold, scoring, best,
                                                 best_score, best_r, _LO_MULTIPLIER, _LO_STEPS)
            epsilon = _count_inliers(best_r, threshold) / n
            _sprt_state(kind, epsilon, delta, sprt)
            reach = _MSAC_REACH if scoring == MSAC else 1.0
            needed = _iterations_needed(_count_inliers(best_r, reach * threshold), n, m,
                                        confidence, sprt[_LOG_A])
            if prosac:  # PROSAC's maximality: the samples come from the prefix `sub`
                needed = min(needed, _iterations_needed(
                    _count_inliers(best_r[:sub], reach * threshold), sub, m, confidence,
                    sprt[_LOG_A]))
    if found:
        best_score = _local_optimisation(kind, A, B, calib, threshold, scoring, best, best_score,
                                         best_r, 1.0, 2)
        model_out[:] = best
        for i in range(n):
            mask_out[perm[i]] = best_r[i] < threshold
    else:
        mask_out[:] = False
    return found, best_score, it


def _ransac_entry(kind):
    @njit(cache=True)
    def entry(a, b, calib, threshold, confidence, max_iterations, scoring, prosac,
              local_optimisation, degensac, seed, model_out, mask_out):
        return ransac(kind, a, b, calib, threshold, confidence, max_iterations, scoring, prosac,
                      local_optimisation, degensac, seed, model_out, mask_out)
    return entry


_ENTRIES = {}


def ransac_for(kind):
    """`ransac` with `kind` fixed, for calls from Python: a literal argument of a numba
    dispatcher is typed again at every call (+50 ms), a closure's constant is not."""
    if kind not in _ENTRIES:
        _ENTRIES[kind] = _ransac_entry(kind)
    return _ENTRIES[kind]
