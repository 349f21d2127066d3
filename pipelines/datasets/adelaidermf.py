"""AdelaideRMF multi-structure fitting sequences (Wong et al., ICCV 2011).

Each `<kind>/<name>.mat` (kind 'fundamental': rigid motions, 'homography': planes) holds `data`
(6, N) with columns `[x1, y1, 1, x2, y2, 1]` in pixels of the two images and `label` (1, N), the
true structure per correspondence (0 = gross outlier, 1..K = structure). The pixel origin
(0- or 1-based) is not documented; it does not matter for the fitting, which is translation
invariant, so the coordinates are returned as stored.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

KINDS = ("fundamental", "homography")


@dataclass
class Sequence:
    """One AdelaideRMF sequence: x1, x2 (N, 2) float64 pixels; labels (N,) int (0 = outlier)."""

    name: str
    kind: str
    x1: np.ndarray
    x2: np.ndarray
    labels: np.ndarray

    @property
    def n_models(self):
        return int(self.labels.max())


def sequence_names(folder, kind):
    """Sorted names of the sequences of `kind` ('fundamental' or 'homography') in `folder`."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    return sorted(p.stem for p in (Path(folder) / kind).glob("*.mat"))


def load_sequence(folder, kind, name):
    """Read `<folder>/<kind>/<name>.mat` into a `Sequence`."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    path = Path(folder) / kind / f"{name}.mat"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such AdelaideRMF sequence")
    mat = scipy.io.loadmat(str(path))
    data = np.asarray(mat["data"], dtype=np.float64)
    if data.ndim != 2 or data.shape[0] != 6:
        raise ValueError(f"{path}: expected 'data' of shape (6, N), got {data.shape}")
    labels = np.asarray(mat["label"]).ravel().astype(np.int64)
    x1 = np.ascontiguousarray(data[0:2].T)
    x2 = np.ascontiguousarray(data[3:5].T)
    return Sequence(name, kind, x1, x2, labels)
