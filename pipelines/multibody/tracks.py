"""Motion segmentation of point tracks with the image pipeline's core (`segmentation`).

The tracks co-visible in a pair of frames are that pair's correspondences: a few frame pairs
are chosen for parallax and coverage (`frame_pairs`), each is split into motions by
`segmentation.pair_motions` (multi-model fitting), and the motions are linked across pairs by
the tracks they share (`segmentation.synchronise`), as matches are in the image pipeline.
Each track then takes the body its pairs' motions vote for, else the one whose fundamental
matrices it fits best (`label_tracks`).
"""
import numpy as np

from geom.epipolar import sampson_distance

from . import segmentation


def segment_tracks(points, visible, K=None, *, seed=0, threshold=1.0, max_pairs=8,
                   min_tracks=16, min_overlap=0.3):
    """One label per track: its rigid motion, the number of motions found automatically.

    points: (F, N, 2) pixels of N tracks over F frames (anything, NaN included, where not
    visible); visible: (F, N) bool; K: (3, 3) intrinsics or None, checked only: the fitted
    fundamental matrices are projective, so labels do not depend on it; seed: sampling seed
    (same input, same labels); threshold: Sampson distance (pixels) under which a track
    agrees with a motion; max_pairs: frame pairs fitted; min_tracks: fewest co-visible tracks a
    pair, and a motion, needs; min_overlap: as in `segmentation.synchronise`. Returns (N,) int64
    labels: 0..B-1 (0 the motion of most tracks), -1 for a track fitting no motion (an outlier,
    or seen in too few frames).
    """
    points, visible = _check(points, visible, K)
    pairs = frame_pairs(visible, max_pairs=max_pairs, min_common=min_tracks)
    common = {p: np.flatnonzero(visible[p[0]] & visible[p[1]]) for p in pairs}
    fits, _ = segmentation.pair_motions(
        {(i, j): (points[i, c], points[j, c]) for (i, j), c in common.items()},
        threshold, min_tracks, seed)
    if not fits:
        return np.full(points.shape[1], -1, np.int64)
    node_body = segmentation.synchronise(common, {p: r.labels for p, r in fits.items()},
                                         min_overlap)
    return label_tracks(points, visible, common, fits, node_body, threshold,
                        min_tracks=min_tracks)


def frame_pairs(visible, *, max_pairs, min_common):
    """Frame pairs to fit, greedily: each next pair maximises (frame gap) x (sum over the tracks
    co-visible in it of 1 / (1 + c)^2, c the chosen pairs already holding the track), among
    pairs with at least `min_common` co-visible tracks; wide gaps give parallax, the weights
    spread the pairs over every track. visible: (F, N) bool. Returns a sorted list of (i, j)."""
    n_frames = visible.shape[0]
    v = visible.astype(np.int64)
    cand = [(i, j) for i in range(n_frames) for j in range(i + 1, n_frames)
            if (v[i] @ v[j]) >= min_common]
    covered = np.zeros(visible.shape[1], np.int64)
    chosen = []
    while cand and len(chosen) < max_pairs:
        weight = 1.0 / (1 + covered) ** 2
        best = int(np.argmax([(j - i) * weight[visible[i] & visible[j]].sum() for i, j in cand]))
        i, j = cand.pop(best)
        chosen.append((i, j))
        covered += visible[i] & visible[j]
    return sorted(chosen)


def label_tracks(points, visible, common, fits, node_body, threshold, *, min_tracks):
    """Labels (N,) of tracks from the synchronised pairwise motions.

    common: dict (i, j) -> (M,) tracks fitted in the pair; fits: dict (i, j) ->
    `MultiModelResult` over them; node_body: `segmentation.synchronise`'s dict ((i, j), motion)
    -> body. A track takes the body its pairs' motions vote for most; a track with no vote (an
    outlier in every pair, or in no pair) the body whose fundamental matrices it fits best
    (median Sampson distance over the pairs where it is visible in both frames) when that is
    within `threshold`, else -1. Bodies with fewer than `min_tracks` tracks are dropped, the
    smallest first, their tracks labelled again among the others; the rest are numbered by
    decreasing number of tracks."""
    n_bodies = max(node_body.values()) + 1
    votes = np.zeros((points.shape[1], n_bodies), np.int64)
    dist = [[[] for _ in range(n_bodies)] for _ in range(points.shape[1])]
    for (i, j), res in fits.items():
        c = common[(i, j)]
        for m in range(res.n_models):
            b = node_body[((i, j), m + 1)]
            votes[c[res.labels == m + 1], b] += 1
            for t, d in zip(c, sampson_distance(res.models[m], points[i, c], points[j, c])):
                dist[t][b].append(d)
    D = np.array([[np.median(d) if d else np.inf for d in row] for row in dist])
    alive = np.ones(n_bodies, bool)
    while True:
        v, Dm = np.where(alive, votes, 0), np.where(alive, D, np.inf)
        near = np.where(Dm.min(1) < threshold, Dm.argmin(1), -1)
        lab = np.where(v.max(1) > 0, v.argmax(1), near)
        sizes = np.bincount(lab[lab >= 0], minlength=n_bodies)
        small = alive & (sizes < min_tracks)
        if not small.any() or alive.sum() == 1:
            break
        alive[np.flatnonzero(small)[np.argmin(sizes[small])]] = False
    order = np.argsort(-sizes, kind="stable")[:int((sizes > 0).sum())]
    new = np.full(n_bodies + 1, -1)
    new[order] = np.arange(order.size)
    return new[lab].astype(np.int64)


def _check(points, visible, K):
    """(points as float64, visible) after validating the arguments of `segment_tracks`."""
    visible = np.asarray(visible)
    if visible.dtype != bool or visible.ndim != 2:
        raise ValueError(f"visible: expected an (F, N) bool array, got {visible.dtype} of shape "
                         f"{visible.shape}")
    points = np.asarray(points)
    if points.shape != visible.shape + (2,):
        raise ValueError(f"points: expected shape {visible.shape + (2,)} (F, N, 2) like visible, "
                         f"got {points.shape}")
    if not (np.issubdtype(points.dtype, np.floating) or np.issubdtype(points.dtype, np.integer)):
        raise ValueError(f"points: expected real numbers, got {points.dtype}")
    points = points.astype(np.float64)
    if not np.isfinite(points[visible]).all():
        raise ValueError("points: NaN or inf where visible")
    if K is not None:
        K = np.asarray(K)
        if K.shape != (3, 3) or not np.isfinite(K).all():
            raise ValueError(f"K: expected a finite (3, 3) matrix, got shape {K.shape}")
    return points, visible
