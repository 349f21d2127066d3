"""CMP two-view sets as distributed with MAGSAC: `cmp_kusvod2_fundamental` (F) and
`cmp_homogr_homography` (H). Both share one format (see their SOURCE.md):

- `<scene>A.*`, `<scene>B.*`: the image pair;
- `<scene>_pts.txt`: rows `x1 y1 1 x2 y2 1 label`, tentative matches (label 0, "not annotated",
  not "outlier") followed by the hand-marked true correspondences (label 1);
- `<scene>_model.txt`: the reference model, all zeros where there is none. The files use
  `x1^T F x2 = 0` and `x1 ~ H x2` (image B to image A); `load_pair` converts them to the
  project's conventions `x2^T F x1 = 0` and `x2 ~ H x1` (image A = image 1 to image B = image 2).

Coordinates are returned as stored (the origin convention of the original annotation is not
documented by the source).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_KINDS = ("fundamental", "homography")


@dataclass
class CmpPair:
    """One image pair: image paths, matches x1, x2 (N, 2) (image A, image B), labels (N,) with 1 on
    the hand-marked true correspondences, and the reference model (3, 3) or None."""

    name: str
    image1: Path
    image2: Path
    x1: np.ndarray
    x2: np.ndarray
    labels: np.ndarray
    model: np.ndarray | None

    @property
    def true_x1(self):
        """Image-A points (M, 2) of the hand-marked true correspondences."""
        return self.x1[self.labels == 1]

    @property
    def true_x2(self):
        """Image-B points (M, 2) of the hand-marked true correspondences."""
        return self.x2[self.labels == 1]


def scenes(folder):
    """Sorted scene names of a CMP folder (those with a `<scene>_pts.txt`)."""
    return sorted(p.name[:-len("_pts.txt")] for p in Path(folder).glob("*_pts.txt"))


def load_pair(folder, name, kind):
    """Scene `name` of a CMP folder as a `CmpPair`; `kind` is "fundamental" or "homography" (how
    to read `<name>_model.txt`)."""
    if kind not in _KINDS:
        raise ValueError(f"kind: expected one of {_KINDS}, got {kind!r}")
    folder = Path(folder)
    pts_file = folder / f"{name}_pts.txt"
    if not pts_file.is_file():
        raise FileNotFoundError(f"{pts_file}: no such points file")
    rows = np.loadtxt(pts_file, ndmin=2)
    if rows.shape[1] != 7:
        raise ValueError(f"{pts_file}: expected 7 columns 'x1 y1 1 x2 y2 1 label', got {rows.shape[1]}")
    images = [_image(folder, name + side) for side in "AB"]
    return CmpPair(name, images[0], images[1], rows[:, 0:2].copy(), rows[:, 3:5].copy(),
                   rows[:, 6].astype(np.int64), _model(folder / f"{name}_model.txt", kind))


def _image(folder, stem):
    found = [p for p in folder.glob(stem + ".*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
    if len(found) != 1:
        raise FileNotFoundError(f"{folder / stem}.*: expected one image, found {len(found)}")
    return found[0]


def _model(path, kind):
    if not path.is_file():
        return None
    M = np.loadtxt(path).reshape(3, 3)
    if not M.any():
        return None
    return M.T if kind == "fundamental" else np.linalg.inv(M)
