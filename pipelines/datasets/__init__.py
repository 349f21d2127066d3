"""Readers for the public benchmark excerpts used by tests and benchmarks.

The data live outside the repository: `$MVDEPTH_DATA`, else `../shared/data` next to the
project root. One module per dataset (its file formats are in the data's SOURCE.md files).
"""
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_root():
    """The benchmark data folder, or None when it is not there."""
    root = Path(os.environ.get("MVDEPTH_DATA", _PROJECT_ROOT.parent / "shared" / "data"))
    return root if root.is_dir() else None


def dataset_path(name):
    """Folder of one dataset (e.g. 'cmp_kusvod2_fundamental'), or None when it is missing."""
    root = data_root()
    path = None if root is None else root / name
    return path if path is not None and path.is_dir() else None


@dataclass
class TrackSequence:
    """Point tracks of one motion segmentation sequence: points (F, N, 2) float64 pixels (NaN
    where not visible); visible (F, N) bool; labels (N,) int64 true motion per track, 0..k-1
    (-1: unlabelled); K: (3, 3) intrinsics or None when unknown."""

    name: str
    points: np.ndarray
    visible: np.ndarray
    labels: np.ndarray
    K: np.ndarray | None = None

    @property
    def n_motions(self):
        return int(self.labels.max()) + 1
