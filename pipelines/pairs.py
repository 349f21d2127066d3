"""Which image pairs to match: all of them in small folders, O(N k) chosen ones in large folders.

- `exhaustive`: every pair, N (N - 1) / 2.
- `sequential`: each image with its `window` successors in sequence order (names that differ
  only by a number, e.g. IMG_0007.JPG, are ordered by that number; else by file name).
- `retrieval`: each image with its `k` most similar images by a global descriptor (VLAD over
  the RootSIFT descriptors, `global_descriptors`, vocabulary trained on the folder itself),
  plus the sequential pairs when the names form a numbered sequence: at most N (k + window)
  pairs.
- `auto` (the default): exhaustive up to `EXHAUSTIVE_MAX_IMAGES` images, retrieval above.

Pairs are (i, j) with i < j, sorted, as indices into the image list.
"""
import re

import cv2
import numpy as np

METHODS = ("auto", "exhaustive", "retrieval", "sequential")
EXHAUSTIVE_MAX_IMAGES = 30
VOCABULARY_SAMPLE = 50_000  # descriptors (over all images) the vocabulary is trained on


def select_pairs(features, names, method="auto", k=10, window=3, n_words=32, seed=0):
    """Pairs to match among images with `features` (list of `features.Features`) and file
    `names` by `method` (see the module docstring) -> sorted list of (i, j), i < j."""
    n = len(names)
    method = resolve_method(method, n)
    if len(features) != n:
        raise ValueError(f"features: expected one per image ({n}), got {len(features)}")
    if method == "exhaustive":
        return exhaustive_pairs(n)
    order = sequence_order(names)
    if method == "sequential":
        return sequential_pairs(np.arange(n) if order is None else order, window)
    pairs = set(retrieval_pairs(global_descriptors([f.descriptors for f in features], n_words,
                                                   seed), k))
    if order is not None:
        pairs.update(sequential_pairs(order, window))
    return sorted(pairs)


def check_method(method):
    """`method` if it is one of `METHODS`, else ValueError."""
    if method not in METHODS:
        raise ValueError(f"pairs: expected one of {', '.join(METHODS)}, got {method!r}")
    return method


def resolve_method(method, n_images):
    """The method `select_pairs` uses for `method` on `n_images` images (`auto` resolved)."""
    check_method(method)
    if method == "auto":
        return "exhaustive" if n_images <= EXHAUSTIVE_MAX_IMAGES else "retrieval"
    return method


def exhaustive_pairs(n):
    """All pairs (i, j), i < j < n."""
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def sequential_pairs(order, window):
    """Each image with the `window` images after it in `order` (a permutation of the image
    indices), without wrapping around -> sorted list of (i, j), i < j."""
    order = np.asarray(order)
    return sorted({(min(a, b), max(a, b)) for s, a in enumerate(order.tolist())
                   for b in order[s + 1:s + 1 + window].tolist()})


def sequence_order(names):
    """Image indices ordered by the number in their names when every name is the same text
    around one number (`frame_7.png`, `frame_10.png`), else None."""
    parts = [re.fullmatch(r"(.*?)(\d+)(\D*)", n) for n in names]
    if not all(parts) or len({(p[1], p[3]) for p in parts}) != 1:
        return None
    return np.argsort([int(p[2]) for p in parts], kind="stable")


def retrieval_pairs(descriptors, k):
    """Each image with its `k` nearest images by cosine similarity of the global descriptors
    (N, D) (rows L2-normalised) -> sorted list of (i, j), i < j."""
    n = len(descriptors)
    k = min(k, n - 1)
    if k < 1:
        return []
    sim = descriptors @ descriptors.T
    np.fill_diagonal(sim, -np.inf)
    nearest = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    return sorted({(min(i, j), max(i, j)) for i in range(n) for j in nearest[i].tolist()})


def global_descriptors(descriptor_sets, n_words=32, seed=0):
    """VLAD of each image's local descriptors -> (N, n_words * D) float32, rows L2-normalised.

    descriptor_sets: per image (M_i, D) float32 (e.g. RootSIFT). The vocabulary is `n_words`
    k-means centres (`cv2.kmeans`, k-means++, seeded by `seed`) of at most `VOCABULARY_SAMPLE`
    descriptors drawn evenly from the images. Per word the residuals of the descriptors assigned
    to it are summed, L2-normalised per word (intra-normalisation), then as a whole."""
    dim = next((d.shape[1] for d in descriptor_sets if len(d)), 128)
    rng = np.random.default_rng(seed)
    per_image = max(1, VOCABULARY_SAMPLE // max(len(descriptor_sets), 1))
    sample = np.concatenate([d[rng.choice(len(d), min(per_image, len(d)), replace=False)]
                             for d in descriptor_sets if len(d)] or [np.zeros((0, dim))])
    n_words = min(n_words, len(sample))
    out = np.zeros((len(descriptor_sets), max(n_words, 1) * dim), np.float32)
    if n_words < 1:
        return out
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-4)
    _, _, centres = cv2.kmeans(sample.astype(np.float32), n_words, None, criteria, 1,
                               cv2.KMEANS_PP_CENTERS)
    for row, d in zip(out, descriptor_sets):
        if not len(d):
            continue
        d = np.asarray(d, np.float32)
        word = np.argmin((centres * centres).sum(1)[None, :] - 2 * d @ centres.T, axis=1)
        one_hot = (word[None, :] == np.arange(n_words)[:, None]).astype(np.float32)
        vlad = one_hot @ d - one_hot.sum(1)[:, None] * centres
        vlad /= np.maximum(np.linalg.norm(vlad, axis=1, keepdims=True), 1e-12)
        row[:] = vlad.ravel() / max(np.linalg.norm(vlad), 1e-12)
    return out
