"""Stage 2: motion segmentation, per pair then synchronised into bodies across all views.

Per pair, `geom.multimodel.fit_fundamentals` splits the SIFT matches into motions (its own
count). The pairwise motions are then linked into bodies: matches join keypoints into tracks
(`pipelines.tracks`), two motions of different pairs that share enough tracks are the same
body, and motions are merged greedily by decreasing overlap, never two motions of one pair into
one body (they are different bodies by construction). The body with most matches is the static
background (body 0); the others are numbered by decreasing support.
"""
from dataclasses import dataclass

import numpy as np

from geom.epipolar import sampson_distance
from geom.multimodel import fit_fundamentals
from pipelines.matching import PairMatches, lack_of_motion
from pipelines.tracks import connected_keypoints

MIN_SHARED_TRACKS = 3


@dataclass
class Segmentation:
    """Bodies found in the views.

    n_bodies: number of bodies (0: the background). keypoint_bodies: per image, (N_k,) int body
    of each keypoint (-1: in no labelled match); pair_bodies: dict (i, j) -> dict body ->
    (M, 2) keypoint index pairs of that body's matches; support: (n_bodies,) matches per body;
    pair_labels: dict (i, j) -> (M,) motion per match of the pair (0 outlier, 1..k); notes:
    remarks for the report.
    """

    n_bodies: int
    keypoint_bodies: list
    pair_bodies: dict
    support: np.ndarray
    pair_labels: dict
    notes: list


def segment(feats, candidates, threshold=1.0, min_matches=16, seed=0, min_overlap=0.3):
    """Segment every pair's matches and synchronise the motions into bodies -> `Segmentation`.

    feats: per image `Features`; candidates: `PairMatches` per pair; threshold: Sampson
    distance (pixels) of `fit_fundamentals`; pairs with fewer than `min_matches` matches are
    skipped (noted); min_overlap: shared tracks over the smaller
    motion's tracks above which two motions of different pairs are linked.
    Raises ValueError when no pair has a motion (the views share no matches).
    """
    fits, notes = pair_motions({(pm.i, pm.j): (feats[pm.i].keypoints[pm.matches[:, 0]],
                                               feats[pm.j].keypoints[pm.matches[:, 1]])
                                for pm in candidates}, threshold, min_matches, seed)
    if not fits:
        cause = lack_of_motion(feats, candidates, min_matches)
        raise ValueError("no pair of views shares enough matches to find a motion"
                         + (f": {cause}" if cause else ""))
    fitted = sorted((pm for pm in candidates if (pm.i, pm.j) in fits),
                    key=lambda pm: (pm.i, pm.j))  # the order of `fits`
    pair_labels = {p: res.labels for p, res in fits.items()}
    sizes = [len(f.keypoints) for f in feats]
    node_body = synchronise(match_tracks(sizes, fitted, pair_labels), pair_labels, min_overlap)
    pair_bodies = {}
    for pm in fitted:
        p, labels = (pm.i, pm.j), pair_labels[(pm.i, pm.j)]
        pair_bodies[p] = {node_body[(p, model)]: pm.matches[labels == model]
                          for model in range(1, int(labels.max()) + 1)}
    return _assemble(sizes, pair_bodies, pair_labels, notes)


def pair_motions(pair_points, threshold, min_matches, seed):
    """Multi-model fitting (`fit_fundamentals`) of every pair's correspondences.

    pair_points: dict (i, j) -> (x1, x2), (M, 2) pixels in views i and j; the k-th pair in
    sorted order is fitted with seed + k; pairs with fewer than `min_matches` correspondences,
    or without a motion, are left out and noted. Returns (dict (i, j) -> `MultiModelResult`
    with at least one motion, notes)."""
    fits, notes = {}, []
    for k, ((i, j), (x1, x2)) in enumerate(sorted(pair_points.items())):
        if len(x1) < min_matches:
            notes.append(f"pair {i}-{j}: {len(x1)} matches, too few to segment (need "
                         f"{min_matches}); left out")
            continue
        res = fit_fundamentals(x1, x2, threshold=threshold, seed=seed + k)
        if res.n_models:
            fits[(i, j)] = res
        else:
            notes.append(f"pair {i}-{j}: no motion with enough support; left out")
    return fits, notes


def _assemble(sizes, pair_bodies, pair_labels, notes):
    """`Segmentation` of per-pair body matches (bodies renumbered by decreasing support,
    the largest the background, the ones left without matches dropped)."""
    n = max(b for bodies in pair_bodies.values() for b in bodies) + 1
    support = np.zeros(n, np.int64)
    for bodies in pair_bodies.values():
        for b, m in bodies.items():
            support[b] += len(m)
    order = [b for b in np.argsort(-support, kind="stable") if support[b] > 0]
    new = {int(b): k for k, b in enumerate(order)}
    pair_bodies = {p: {new[b]: m for b, m in bodies.items() if len(m)}
                   for p, bodies in pair_bodies.items()}
    votes = [np.zeros((s, len(order)), np.int64) for s in sizes]
    for (i, j), bodies in pair_bodies.items():
        for b, m in bodies.items():
            np.add.at(votes[i], (m[:, 0], b), 1)
            np.add.at(votes[j], (m[:, 1], b), 1)
    keypoint_bodies = [np.where(v.sum(1) > 0, v.argmax(1), -1) for v in votes]
    return Segmentation(len(order), keypoint_bodies, pair_bodies, support[order], pair_labels,
                        notes)


def absorb_background(seg, feats, background_F, threshold=1.0, fraction=0.7):
    """A new `Segmentation` where a body's matches in a pair go to the background when at least
    `fraction` of them fit the background's fundamental matrix of that pair within `threshold`
    (Sampson, pixels). background_F: dict (i, j) -> F from the background cameras. Multi-model
    fitting splits a large near-planar background into several motions, each fitting its own
    F; the cameras, fixed by all the views, tell them apart from real bodies."""
    pair_bodies, notes = {}, list(seg.notes)
    for (i, j), bodies in seg.pair_bodies.items():
        out = {b: m for b, m in bodies.items()}
        F = background_F.get((i, j))
        for b, m in bodies.items():
            if b == 0 or F is None:
                continue
            d = sampson_distance(F, feats[i].keypoints[m[:, 0]], feats[j].keypoints[m[:, 1]])
            if np.mean(d < threshold) >= fraction:
                out[0] = np.concatenate([out.get(0, np.zeros((0, 2), np.int64)), out.pop(b)])
                notes.append(f"views {i}-{j}: a motion of {len(m)} matches fits the background's "
                             f"cameras: merged into the background")
        pair_bodies[(i, j)] = out
    return _assemble([len(f.keypoints) for f in feats], pair_bodies, seg.pair_labels, notes)


def match_tracks(sizes, candidates, labels):
    """Track id per match: the matches with a motion join keypoints into tracks
    (`tracks.connected_keypoints`).

    sizes: keypoints per image; candidates: `PairMatches` per pair; labels: dict (i, j) -> (M,)
    motion per match (0 outlier). Returns dict (i, j) -> (M,) int track id (the smallest global
    keypoint index of the track; meaningful for the matches with a motion)."""
    roots, offsets = connected_keypoints(
        sizes, [PairMatches(pm.i, pm.j, pm.matches[labels[(pm.i, pm.j)] > 0]) for pm in candidates])
    return {(pm.i, pm.j): roots[pm.matches[:, 0] + offsets[pm.i]] for pm in candidates}


def synchronise(pair_tracks, labels, min_overlap=0.3):
    """Consistent body ids for pairwise motion labels.

    pair_tracks: dict (i, j) -> (M,) track id of each correspondence of the pair; labels: dict
    (i, j) -> (M,) motion per correspondence (0 outlier, 1..k). Two motions of different pairs
    sharing at least MIN_SHARED_TRACKS tracks, and at least `min_overlap` of the smaller one's,
    are linked; links are taken by decreasing overlap, never joining two motions of one pair.
    Returns dict ((i, j), model) -> body, bodies 0..B-1 by decreasing number of
    correspondences (0: the background)."""
    nodes, tracks, counts = [], [], []
    for p, lab in sorted(labels.items()):
        for model in range(1, int(lab.max()) + 1):
            sel = pair_tracks[p][lab == model]
            nodes.append((p, model))
            tracks.append(set(sel.tolist()))
            counts.append(len(sel))
    edges = []
    for a in range(len(nodes)):
        for b in range(a + 1, len(nodes)):
            if nodes[a][0] == nodes[b][0]:
                continue
            shared = len(tracks[a] & tracks[b])
            overlap = shared / max(1, min(len(tracks[a]), len(tracks[b])))
            if shared >= MIN_SHARED_TRACKS and overlap >= min_overlap:
                edges.append((overlap, a, b))
    cluster = list(range(len(nodes)))
    members = {c: {c} for c in cluster}
    for _, a, b in sorted(edges, reverse=True):
        ca, cb = cluster[a], cluster[b]
        if ca == cb or ({nodes[n][0] for n in members[ca]} & {nodes[n][0] for n in members[cb]}):
            continue  # already one body, or would merge two motions of one pair
        for n in members[cb]:
            cluster[n] = ca
        members[ca] |= members.pop(cb)
    weight = {c: sum(counts[n] for n in ms) for c, ms in members.items()}
    order = sorted(members, key=lambda c: (-weight[c], c))
    body_of = {c: b for b, c in enumerate(order)}
    return {nodes[n]: body_of[cluster[n]] for n in range(len(nodes))}
