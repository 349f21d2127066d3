"""Hopkins 155 motion segmentation sequences (Tron and Vidal, CVPR 2007).

Each `<seq>/<seq>_truth.mat` holds `y` (3, P, F), homogeneous pixels of P points tracked through
all F frames, and `s` (P, 1) the true motion per point (1..n). Its `K` is a normalisation
(image half-size), not calibrated intrinsics, so it is not returned. The 155 sequences are the
50 base videos (2 or 3 motions) and, for each 3-motion one, the three 2-motion subsets
`<seq>_gXY` (the points with s in {X, Y}); `dancing` (articulated, 5 labels) is in the folder but
not one of the 155.
"""
import re
from pathlib import Path

import numpy as np
import scipy.io

from . import TrackSequence

NOT_IN_155 = ("dancing",)
_SUBSET = re.compile(r"^(.+)_g([1-9])([1-9])$")


def base_names(folder):
    """Sorted names of the base sequences in `folder` (every one, `dancing` included)."""
    return sorted(p.parent.name for p in Path(folder).glob("*/*_truth.mat")
                  if p.stem == f"{p.parent.name}_truth")


def sequence_names(folder):
    """The Hopkins 155 names present in `folder`: each base sequence but `NOT_IN_155`, and after
    each 3-motion one its subsets `<seq>_g12`, `_g13`, `_g23`."""
    names = []
    for base in base_names(folder):
        if base in NOT_IN_155:
            continue
        names.append(base)
        if _load(folder, base)[1].max() == 3:
            names += [f"{base}_g12", f"{base}_g13", f"{base}_g23"]
    return names


def load_sequence(folder, name):
    """Read a base sequence `name`, or the subset `<seq>_gXY` of one, into a `TrackSequence`
    (every point visible in every frame, labels 0..n-1, K None)."""
    match = _SUBSET.match(name)
    y, s = _load(folder, match.group(1) if match else name)
    keep = (np.isin(s, [int(match.group(2)), int(match.group(3))]) if match
            else np.ones(s.size, bool))
    labels = np.unique(s[keep], return_inverse=True)[1].astype(np.int64)
    points = np.ascontiguousarray(y[:2, keep].transpose(2, 1, 0))
    return TrackSequence(name, points, np.ones(points.shape[:2], bool), labels)


def sequences(folder):
    """The Hopkins 155 sequences of `folder` (see `sequence_names`), as `TrackSequence`s."""
    for name in sequence_names(folder):
        yield load_sequence(folder, name)


def _load(folder, base):
    path = Path(folder) / base / f"{base}_truth.mat"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such Hopkins 155 sequence")
    mat = scipy.io.loadmat(str(path))
    y = np.asarray(mat["y"], np.float64)
    s = np.asarray(mat["s"]).ravel().astype(np.int64)
    if y.ndim != 3 or y.shape[0] != 3 or y.shape[1] != s.size:
        raise ValueError(f"{path}: expected y (3, P, F) and s (P,), got {y.shape} and {s.shape}")
    return y[:2] / y[2], s
