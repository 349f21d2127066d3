"""KT3DMoSeg multi-body motion segmentation clips (Xu, Cheong and Li, CVPR 2018; KITTI raw).

Each `Data/<name>_Tracks.mat` holds a struct `Data` with the labelled sparse point tracks of a
10-20 frame driving clip: `ySparse` (3, N, F) homogeneous pixels, `visibleSparse` (N, F) and
`GtLabel` (N,) the true motion per track (1..k). Tracks appear and vanish; coordinates of a frame
where a track is not visible are 0 in the file and NaN here. No intrinsics come with the tracks
(and no images). The pixel origin (0- or 1-based) is not documented; segmentation is
translation invariant, so the coordinates are returned as stored.
"""
from pathlib import Path

import numpy as np
import scipy.io

from . import TrackSequence


def sequence_names(folder):
    """Sorted names (e.g. 'Seq005_Clip01') of the clips in `folder`."""
    return sorted(p.name[:-len("_Tracks.mat")]
                  for p in (Path(folder) / "Data").glob("*_Tracks.mat"))


def load_sequence(folder, name):
    """Read `<folder>/Data/<name>_Tracks.mat` into a `TrackSequence`."""
    path = Path(folder) / "Data" / f"{name}_Tracks.mat"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such KT3DMoSeg clip")
    data = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)["Data"]
    y = np.asarray(data.ySparse, np.float64)
    visible = np.asarray(data.visibleSparse).astype(bool).T
    if y.ndim != 3 or y.shape[0] != 3 or visible.shape != (y.shape[2], y.shape[1]):
        raise ValueError(f"{path}: expected ySparse (3, N, F) and visibleSparse (N, F), got "
                         f"{y.shape} and {visible.T.shape}")
    points = np.where(visible[..., None], y[:2].transpose(2, 1, 0), np.nan)
    labels = np.asarray(data.GtLabel, np.int64).ravel() - 1
    return TrackSequence(name, points, visible, labels)


def sequences(folder):
    """Every clip of `folder`, in name order, as `TrackSequence`s."""
    for name in sequence_names(folder):
        yield load_sequence(folder, name)
