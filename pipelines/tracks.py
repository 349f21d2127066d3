"""Feature tracks: keypoints of different images joined by the matches of image pairs.

One union-find over (image, keypoint) nodes (`connected_keypoints`) serves the tracks of the
static reconstruction (`build_tracks`) and the synchronisation of the motions of multibody
segmentation. Node of keypoint k of image i: `offsets[i] + k`.
"""
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def connected_keypoints(sizes, pair_matches):
    """The keypoints of images with `sizes` keypoints each, joined by the matches of
    `pair_matches` (`matching.PairMatches`) -> (root (K,) int64 per node: the smallest node of
    its connected component, offsets (N + 1,) int64 of each image's first node)."""
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(offsets[-1])
    ends = [np.stack([pm.matches[:, 0] + offsets[pm.i], pm.matches[:, 1] + offsets[pm.j]])
            for pm in pair_matches]
    a, b = np.concatenate(ends, axis=1) if ends else np.zeros((2, 0), np.int64)
    _, label = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)),
                                    directed=False)
    root = np.full(n, n, np.int64)
    np.minimum.at(root, label, np.arange(n))
    return root[label], offsets


@dataclass
class Tracks:
    """Feature tracks: connected keypoints across images. Observation arrays (sorted by track):
    track, image, keypoint (n,) int and xy (n, 2); count: number of tracks."""

    track: np.ndarray
    image: np.ndarray
    keypoint: np.ndarray
    xy: np.ndarray
    count: int


def build_tracks(features, pair_matches):
    """Join the verified matches (`matching.PairMatches`) of images with `features` into
    tracks (`connected_keypoints`). A track holding two keypoints of one image is ambiguous
    and dropped, as are single keypoints."""
    roots, offsets = connected_keypoints([len(f.keypoints) for f in features], pair_matches)
    image = np.repeat(np.arange(len(features)), np.diff(offsets))
    size = np.bincount(roots, minlength=offsets[-1])
    node = np.flatnonzero(size[roots] >= 2)
    # ambiguous: one root seen twice in one image
    key = roots[node] * len(features) + image[node]
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    bad = np.zeros(offsets[-1], bool)
    bad[roots[node[counts[inverse] > 1]]] = True
    node = node[~bad[roots[node]]]
    node = node[np.argsort(roots[node], kind="stable")]
    _, track = np.unique(roots[node], return_inverse=True)
    kp = node - offsets[image[node]]
    xy = np.array([features[i].keypoints[k] for i, k in zip(image[node], kp)]).reshape(-1, 2)
    count = int(track.max() + 1) if len(node) else 0
    return Tracks(track.astype(np.int64), image[node], kp, xy, count)
