"""Multi-model fitting: several fundamental matrices (motions) or homographies (planes) at once.

The method is preference analysis followed by an energy-based model selection:

1. Localised minimal sampling: each hypothesis is fitted to a random correspondence and a few
   points among its k nearest neighbours (in the joint (x1, x2) space, k log-uniform between a
   small neighbourhood and all points), since the points of one structure are spatially
   coherent; 7-point F (up to three models per sample) or 4-point H. Steps 1-3 run on at most
   500 points (a random subset of larger sets; the rest only enter from step 4 on).
2. Soft preferences (T-Linkage): point i prefers hypothesis j with `exp(-r_ij / tau)` where the
   residual `r_ij` (Sampson distance for F, transfer error for H, pixels) is below the threshold.
3. Agglomerative clustering of the preference vectors with the Tanimoto distance, merging the
   closest pair and taking the element-wise minimum as the preference of the union, until no two
   clusters share a preference.
4. Each cluster of more than a minimal sample is refitted (8-point / DLT) and grown to all the
   points within the threshold, as a candidate model.
5. Model selection and refinement: points go to the model with the smallest residual below the
   threshold (else outlier), and keep it only if enough of their 8 nearest neighbours in the
   joint (x1, x2) space have it too (spatial coherence: a wrong match is near its neighbours in
   one image only, so it rarely passes); a model is kept only if it explains at least
   `min_support` points that no other kept model explains (a label cost in point units);
   models are refitted on their points and the assignment repeated until the labels are stable.
6. While that adds models, steps 1-5 run again on the points left as outliers (fresh samples
   drawn among them), where a small structure is no longer drowned by the large ones; the new
   candidates compete with the models already kept in step 5.

References for the ideas (the code is our own): Magri & Fusiello, T-Linkage (CVPR 2014) and
RPA (2016); Isack & Boykov, PEARL (IJCV 2012) for the label-cost energy; Barath & Matas,
Progressive-X (ICCV 2019).
"""
import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from . import _checks
from .eightpoint import _eight_point
from .epipolar import _sampson
from .homography import _homography_dlt, _transfer_error
from .sevenpoint import _seven_point

_FUNDAMENTAL = 0
_HOMOGRAPHY = 1
_SAMPLE_SIZE = {_FUNDAMENTAL: 7, _HOMOGRAPHY: 4}
_REFIT_SIZE = {_FUNDAMENTAL: 8, _HOMOGRAPHY: 4}
_COHERENCE_NEIGHBOURS = 8
_MAX_CLUSTERED = 500


@dataclass
class MultiModelResult:
    """Result of `fit_fundamentals` / `fit_homographies`.

    labels (N,) int64: 0 = outlier, 1..k = index of the model (into `models`, plus one);
    models (k, 3, 3): the fitted matrices (unit Frobenius norm), largest support first;
    inlier_counts (k,): points per model; threshold: the residual threshold used (pixels);
    n_hypotheses: hypotheses sampled; timings: seconds per stage.
    """

    labels: np.ndarray
    models: np.ndarray
    inlier_counts: np.ndarray
    threshold: float
    n_hypotheses: int
    timings: dict = field(default_factory=dict)

    @property
    def n_models(self):
        return int(self.models.shape[0])


def fit_fundamentals(x1, x2, threshold=3.0, seed=0, n_hypotheses=2000, neighbours=None,
                     min_support=None, coherence=3, max_iterations=10, max_rounds=3):
    """Find the rigid motions in two-view correspondences, one fundamental matrix each.

    x1, x2: (N, 2) pixels in image 1 and 2 (N >= 8). threshold: Sampson distance (pixels) under
    which a correspondence agrees with a motion. seed: sampling seed (same input and seed, same
    result). n_hypotheses: minimal samples drawn per round. neighbours: smallest neighbourhood a
    sample is drawn from (default max(12, N // 10)). min_support: smallest number of points a
    motion must explain on its own to be kept (default max(12, N // 25)). coherence: how many
    of its 8 nearest correspondences must share a point's motion for it to keep it (0 = no
    spatial test). max_iterations: rounds of assignment and refit. max_rounds: proposal rounds
    (the later ones on the outliers left). The defaults are those that did best on AdelaideRMF
    (benchmarks/bench_multimodel.py). Returns a `MultiModelResult` (models at unit Frobenius
    norm, `x2^T F x1 = 0`); the number of motions is found automatically (zero, with every
    label 0, when nothing has enough support).
    """
    return _fit(_FUNDAMENTAL, x1, x2, threshold, seed, n_hypotheses, neighbours, min_support,
                coherence, max_iterations, max_rounds)


def fit_homographies(x1, x2, threshold=4.0, seed=0, n_hypotheses=2000, neighbours=None,
                     min_support=None, coherence=1, max_iterations=10, max_rounds=3):
    """Find the planes in two-view correspondences, one homography `x2 ~ H x1` each.

    x1, x2: (N, 2) pixels (N >= 4). threshold: transfer error `|x2 - H x1|` (pixels) under which
    a correspondence agrees with a plane. Other arguments and the result as in
    `fit_fundamentals` (default min_support max(8, N // 25); coherence 1, as planes of a scene
    touch each other and a stricter test costs correct points at their borders).
    """
    return _fit(_HOMOGRAPHY, x1, x2, threshold, seed, n_hypotheses, neighbours, min_support,
                coherence, max_iterations, max_rounds)


def _fit(kind, x1, x2, threshold, seed, n_hypotheses, neighbours, min_support, coherence,
         max_iterations, max_rounds):
    s = _SAMPLE_SIZE[kind]
    x1, x2 = _checks.point_pairs(x1, x2, min_count=_REFIT_SIZE[kind])
    threshold = _checks.positive(threshold, "threshold")
    n = x1.shape[0]
    seed = _checks.integer(seed, "seed", 0)
    n_hypotheses = _checks.integer(n_hypotheses, "n_hypotheses", 1)
    max_iterations = _checks.integer(max_iterations, "max_iterations", 1)
    max_rounds = _checks.integer(max_rounds, "max_rounds", 1)
    if neighbours is not None:
        neighbours = _checks.integer(neighbours, "neighbours", s - 1)
    if min_support is None:
        min_support = max(12 if kind == _FUNDAMENTAL else 8, n // 25)
    min_support = max(_checks.integer(min_support, "min_support", 1), _REFIT_SIZE[kind])
    coherence = _checks.integer(coherence, "coherence", 0)
    if coherence > _COHERENCE_NEIGHBOURS:
        raise ValueError(f"coherence: expected at most {_COHERENCE_NEIGHBOURS}, got {coherence}")
    knn = _neighbours(x1, x2, _COHERENCE_NEIGHBOURS)
    rng = np.random.default_rng(seed)
    times = {"sampling": 0.0, "clustering": 0.0, "selection": 0.0}
    labels = np.zeros(n, np.int64)
    models = []
    pool = np.arange(n)
    drawn = 0
    for _ in range(max_rounds):
        candidates, m = _propose(kind, x1, x2, pool, rng, n_hypotheses, neighbours, threshold,
                                 times)
        drawn += m
        t0 = time.perf_counter()
        labels, selected = _select(kind, x1, x2, models + candidates, threshold, min_support,
                                   max_iterations, knn, coherence)
        times["selection"] += time.perf_counter() - t0
        grew = len(selected) > len(models)
        models = selected
        # another round on the points still unexplained, where small structures stand out
        pool = np.flatnonzero(labels == 0)
        if not grew or pool.size < max(min_support, s + 1):
            break
    counts = np.bincount(labels, minlength=len(models) + 1)[1:]
    return MultiModelResult(labels, np.array(models, dtype=np.float64).reshape(-1, 3, 3), counts,
                            threshold, drawn, times)


def _propose(kind, x1, x2, pool, rng, n_hypotheses, neighbours, threshold, times):
    """Candidate models from preference analysis of the points `pool` (a random subset of
    _MAX_CLUSTERED of them when more, as clustering costs O(N^2) memory and up to O(N^3) time):
    localised sampling, T-Linkage clustering, and a refit of every cluster grown to all the
    points it explains. Returns the candidates and the number of hypotheses drawn."""
    t0 = time.perf_counter()
    if pool.size > _MAX_CLUSTERED:
        pool = np.sort(rng.choice(pool, _MAX_CLUSTERED, replace=False))
    a = np.ascontiguousarray(x1[pool])
    b = np.ascontiguousarray(x2[pool])
    n = pool.size
    k = max(12, n // 10) if neighbours is None else neighbours
    samples = _local_samples(rng, _neighbours(a, b), n_hypotheses, _SAMPLE_SIZE[kind],
                             min(k, n - 1))
    hypotheses = _hypotheses(kind, a, b, samples)
    residuals = _residual_matrix(kind, hypotheses, a, b)
    times["sampling"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    clusters = _tlinkage(residuals, threshold)
    times["clustering"] += time.perf_counter() - t0
    candidates = []
    for c in np.flatnonzero(np.bincount(clusters) > _REFIT_SIZE[kind]):
        model = _refit(kind, x1, x2, pool[clusters == c], threshold, True)
        if model is not None:
            candidates.append(model)
    return candidates, hypotheses.shape[0]


def _neighbours(x1, x2, k=None):
    """(N, k): per correspondence, the k others (default all N - 1) nearest in the joint
    (x1, x2) space, nearest first (a wrong match is near its image-1 neighbours but not near
    their image-2 points)."""
    z = np.hstack([x1, x2])
    n = z.shape[0]
    k = n - 1 if k is None else min(k, n - 1)
    _, idx = cKDTree(z).query(z, k + 1)
    idx = idx.reshape(n, k + 1)
    # drop each point itself (first, unless duplicates tie with it)
    others = idx != np.arange(n)[:, None]
    others[others.all(axis=1), -1] = False
    return idx[others].reshape(n, k)


def _local_samples(rng, knn, m, s, k_min):
    """(m, s) indices: a random anchor and s-1 distinct points among its k nearest neighbours
    (rows of `knn`, see `_neighbours`), k drawn per sample log-uniformly between k_min and N - 1
    (local and wider samples)."""
    n = knn.shape[0]
    anchors = rng.integers(0, n, m)
    k = np.exp(rng.uniform(np.log(k_min), np.log(n - 1), m))
    keys = rng.random((m, n - 1))
    keys[np.arange(n - 1)[None, :] >= k[:, None]] = 2.0
    pick = np.argpartition(keys, s - 2, axis=1)[:, : s - 1]
    return np.ascontiguousarray(np.column_stack([anchors, knn[anchors[:, None], pick]]))


@njit(cache=True)
def _hypotheses_kernel(kind, x1, x2, samples, out, valid):
    # serial: a few thousand minimal solves take ~20 ms, and parallel=True here would triple
    # the compilation time of the solvers inlined into the loop
    m, s = samples.shape
    for j in range(m):
        a = np.empty((s, 2))
        b = np.empty((s, 2))
        for q in range(s):
            a[q] = x1[samples[j, q]]
            b[q] = x2[samples[j, q]]
        if kind == _FUNDAMENTAL:
            sols = np.empty((3, 3, 3))
            c = _seven_point(a, b, sols)
            for q in range(c):
                out[3 * j + q] = sols[q]
                valid[3 * j + q] = True
        else:
            H = _homography_dlt(a, b)
            if np.any(H != 0.0):
                out[3 * j] = H
                valid[3 * j] = True


def _hypotheses(kind, x1, x2, samples):
    """Models (M, 3, 3) fitted to the minimal samples (degenerate samples give none)."""
    out = np.zeros((3 * samples.shape[0], 3, 3))
    valid = np.zeros(3 * samples.shape[0], np.bool_)
    _hypotheses_kernel(kind, x1, x2, samples, out, valid)
    return np.ascontiguousarray(out[valid])


@njit(cache=True)
def _residuals_into(kind, model, x1, x2, out):
    if kind == _FUNDAMENTAL:
        _sampson(model, x1, x2, out)
    else:
        _transfer_error(model, x1, x2, out)


@njit(cache=True, parallel=True)
def _residual_kernel(kind, models, x1, x2, out):
    for j in prange(models.shape[0]):
        _residuals_into(kind, models[j], x1, x2, out[j])


def _residual_matrix(kind, models, x1, x2):
    """(M, N) residuals in pixels of every point under every model."""
    out = np.empty((models.shape[0], x1.shape[0]))
    _residual_kernel(kind, models, x1, x2, out)
    return out


@njit(cache=True)
def _preference_kernel(residuals, threshold, P, G):
    """T-Linkage soft preferences P (M, N) = exp(-r / tau) below the threshold, 0 above (tau =
    threshold / 5), of the N points for the M hypotheses (residuals (M, N)), and the points'
    Gram matrix G = P^T P, accumulated over each hypothesis' few consenting points."""
    m, n = residuals.shape
    members = np.empty(n, np.int64)
    G[:] = 0.0
    for j in range(m):
        c = 0
        for i in range(n):
            r = residuals[j, i]
            if r < threshold:
                P[j, i] = np.exp(-5.0 * r / threshold)
                members[c] = i
                c += 1
            else:
                P[j, i] = 0.0
        for qa in range(c):
            a = members[qa]
            pa = P[j, a]
            for qb in range(qa, c):
                b = members[qb]
                G[a, b] += pa * P[j, b]
    for a in range(n):
        for b in range(a):
            G[a, b] = G[b, a]


@njit(cache=True)
def _nearest(D, active, i, nearest, nearest_d):
    """Store the active cluster closest to cluster i (and the distance) in nearest[i]."""
    nearest[i] = -1
    nearest_d[i] = np.inf
    for k in range(D.shape[0]):
        if active[k] and k != i and D[i, k] < nearest_d[i]:
            nearest[i] = k
            nearest_d[i] = D[i, k]


@njit(cache=True)
def _tlinkage_kernel(P, G):
    """Agglomerative Tanimoto linkage of the columns of P (M, N), Gram matrix G = P^T P given.
    Merging keeps the element-wise minimum, whose support shrinks, so the dot products of a
    merged column are taken over its non-zero entries only. Returns a root index per point."""
    m, n = P.shape
    dot = np.empty(n)
    D = np.empty((n, n))
    for i in range(n):
        for k in range(n):
            den = G[i, i] + G[k, k] - G[i, k]
            D[i, k] = 1.0 - G[i, k] / den if den > 0 and i != k else 1.0
    active = np.ones(n, np.bool_)
    parent = np.arange(n)
    support = np.empty(m, np.int64)
    # nearest active cluster of each cluster, so a merge costs O(N) instead of an O(N^2) scan
    nearest = np.empty(n, np.int64)
    nearest_d = np.empty(n)
    for i in range(n):
        _nearest(D, active, i, nearest, nearest_d)
    while True:
        bi = -1
        best = 1.0
        for i in range(n):
            if active[i] and nearest_d[i] < best:
                best = nearest_d[i]
                bi = i
        if bi < 0:
            break
        bk = nearest[bi]
        active[bk] = False
        parent[bk] = bi
        c = 0
        sq = 0.0
        for j in range(m):
            v = min(P[j, bi], P[j, bk])
            P[j, bi] = v
            if v > 0:
                support[c] = j
                c += 1
                sq += v * v
        G[bi, bi] = sq
        dot[:] = 0.0
        for q in range(c):
            j = support[q]
            v = P[j, bi]
            for k in range(n):
                dot[k] += v * P[j, k]
        for k in range(n):
            if not active[k] or k == bi:
                continue
            den = sq + G[k, k] - dot[k]
            D[bi, k] = D[k, bi] = 1.0 - dot[k] / den if den > 0 else 1.0
        _nearest(D, active, bi, nearest, nearest_d)
        for k in range(n):
            if not active[k] or k == bi:
                continue
            if nearest[k] == bi or nearest[k] == bk:
                _nearest(D, active, k, nearest, nearest_d)
            elif D[k, bi] < nearest_d[k]:
                nearest[k] = bi
                nearest_d[k] = D[k, bi]
    labels = np.empty(n, np.int64)
    for i in range(n):
        r = i
        while parent[r] != r:
            r = parent[r]
        labels[i] = r
    return labels


def _tlinkage(residuals, threshold):
    """Cluster id per point (N,) from agglomerative Tanimoto linkage of the points' preferences
    for the hypotheses (residuals (M, N))."""
    n = residuals.shape[1]
    P = np.empty(residuals.shape)
    G = np.empty((n, n))
    _preference_kernel(residuals, threshold, P, G)
    roots = _tlinkage_kernel(P, G)
    return np.unique(roots, return_inverse=True)[1]


def _fit_model(kind, x1, x2):
    return _eight_point(x1, x2) if kind == _FUNDAMENTAL else _homography_dlt(x1, x2)


def _residuals(kind, model, x1, x2):
    out = np.empty(x1.shape[0])
    _residuals_into(kind, model, x1, x2, out)
    return out


def _refit(kind, x1, x2, idx, threshold, grow, rounds=5):
    """Least-squares model of the points `idx`, re-fitted on those of them within the threshold
    (`grow`: on all the points within it, to extend a model seen by a local cluster only) until
    that set stops changing."""
    pool = np.arange(x1.shape[0]) if grow else idx
    model = None
    for _ in range(rounds):
        if idx.size < _REFIT_SIZE[kind]:
            return model
        model = _fit_model(kind, np.ascontiguousarray(x1[idx]), np.ascontiguousarray(x2[idx]))
        if not np.all(np.isfinite(model)) or not np.any(model):
            return None
        grown = pool[_residuals(kind, model, x1[pool], x2[pool]) < threshold]
        if np.array_equal(grown, idx):
            break
        idx = grown
    return model


def _assign(R, threshold, knn, coherence):
    """Labels (0 = outlier, j+1 = column j) from the smallest residual below the threshold,
    kept only where at least `coherence` of the point's neighbours `knn` (N, 8) have it too."""
    if R.shape[1] == 0:
        return np.zeros(R.shape[0], np.int64)
    best = np.argmin(R, axis=1)
    labels = np.where(R[np.arange(R.shape[0]), best] < threshold, best + 1, 0)
    if coherence:
        agree = (labels[knn] == labels[:, None]).sum(axis=1)
        labels[agree < coherence] = 0
    return labels


def _cost(R, threshold):
    """Per point: 1 when no model explains it within the threshold (an outlier), else 0."""
    if R.shape[1] == 0:
        return np.ones(R.shape[0])
    return (R.min(axis=1) >= threshold).astype(np.float64)


def _select(kind, x1, x2, models, threshold, min_support, max_iterations, knn, coherence):
    """Greedy label-cost model selection alternating with assignment and refit."""
    models = list(models)
    labels = np.zeros(x1.shape[0], np.int64)
    for _ in range(max_iterations):
        if not models:
            return np.zeros(x1.shape[0], np.int64), []
        R = np.column_stack([_residuals(kind, m, x1, x2) for m in models])
        # drop, one at a time, the model whose removal raises the cost least, while that rise
        # is below the label cost min_support (in units of outlier points)
        keep = list(range(len(models)))
        while keep:
            base = _cost(R[:, keep], threshold).sum()
            rise = [_cost(R[:, [k for k in keep if k != j]], threshold).sum() - base for j in keep]
            j = int(np.argmin(rise))
            if rise[j] >= min_support:
                break
            keep.pop(j)
        R = R[:, keep]
        models = [models[j] for j in keep]
        new = _assign(R, threshold, knn, coherence)
        refitted = []
        for j in range(len(models)):
            m = _refit(kind, x1, x2, np.flatnonzero(new == j + 1), threshold, False)
            if m is not None:
                refitted.append(m)
        if np.array_equal(new, labels) and len(refitted) == len(models):
            break
        labels = new
        models = refitted
    # the coherence test may leave a model with too few points: drop the weakest such
    while models:
        R = np.column_stack([_residuals(kind, m, x1, x2) for m in models])
        labels = _assign(R, threshold, knn, coherence)
        counts = np.bincount(labels, minlength=len(models) + 1)[1:]
        if counts.min() >= min_support:
            break
        models.pop(int(np.argmin(counts)))
    if not models:
        return np.zeros(x1.shape[0], np.int64), []
    order = np.argsort(-counts, kind="stable")
    relabel = np.zeros(len(models) + 1, np.int64)
    relabel[order + 1] = np.arange(1, len(models) + 1)
    return relabel[labels], [models[j] for j in order]


def misclassification_error(true_labels, labels):
    """Fraction of points whose label differs from the truth under the best matching of labels.

    true_labels, labels: (N,) non-negative ints (0 = outlier, counted as one more class). The
    labels are matched one-to-one by the assignment maximising the agreement (Hungarian method),
    as in the multi-model fitting literature; unmatched labels count as errors.
    """
    t = np.asarray(true_labels)
    p = np.asarray(labels)
    if t.ndim != 1 or p.shape != t.shape or t.size == 0:
        raise ValueError(f"true_labels, labels: expected two (N,) arrays with N > 0, got shapes "
                         f"{t.shape} and {p.shape}")
    if not (np.issubdtype(t.dtype, np.integer) and np.issubdtype(p.dtype, np.integer)) \
            or t.min() < 0 or p.min() < 0:
        raise ValueError("true_labels, labels: expected non-negative integer labels")
    counts = np.zeros((t.max() + 1, p.max() + 1), np.int64)
    np.add.at(counts, (t, p), 1)
    rows, cols = linear_sum_assignment(-counts)
    return (t.size - counts[rows, cols].sum()) / t.size
