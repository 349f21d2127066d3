"""The `Reconstruction`: cameras, points and the observations of the points."""
from dataclasses import dataclass, field

import numpy as np

from .calibration import project


@dataclass
class Reconstruction:
    """A sparse model.

    image_names: every input image, in order; cameras: dict image name -> `Camera` of the
    registered ones; points (P, 3); colors (P, 3) uint8 RGB; observations of the points:
    obs_point, obs_image (index into image_names), obs_keypoint (index into that image's
    keypoints), all (O,) int, and obs_xy (O, 2) pixels (observed). radial: dict image name ->
    radial coefficient k of its camera (`calibration.project`; missing: 0, a pinhole camera).
    camera_groups: per camera group a dict: "model" (COLMAP model name), "images" (names),
    "K" (3, 3) and "radial" (its intrinsics), "std" (4,) standard deviations of its refined
    focal length, k, cx and cy (NaN: held). notes: remarks for the report (e.g. guessed intrinsics).
    """

    image_names: list
    cameras: dict
    points: np.ndarray
    colors: np.ndarray
    obs_point: np.ndarray
    obs_image: np.ndarray
    obs_keypoint: np.ndarray
    obs_xy: np.ndarray
    radial: dict = field(default_factory=dict)
    camera_groups: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def tracks(self):
        """Per point, the (image index, keypoint index) pairs that observe it (list of (k, 2))."""
        order = np.argsort(self.obs_point, kind="stable")
        pairs = np.stack([self.obs_image, self.obs_keypoint], axis=1)[order]
        return np.split(pairs, np.cumsum(np.bincount(self.obs_point, minlength=len(self.points)))[:-1])

    @property
    def track_lengths(self):
        """Number of observing images per point (P,)."""
        return np.bincount(self.obs_point, minlength=len(self.points))

    def reprojection_errors(self):
        """Pixel error of every observation (O,); inf where the point is at or behind the camera
        or not finite."""
        err = np.full(len(self.obs_xy), np.inf)
        finite = np.isfinite(self.points).all(axis=1)[self.obs_point]
        for i, name in enumerate(self.image_names):
            sel = (self.obs_image == i) & finite
            if sel.any():
                cam, X = self.cameras[name], self.points[self.obs_point[sel]]
                e = np.hypot(*(project(cam, self.radial.get(name, 0.0), X) - self.obs_xy[sel]).T)
                err[sel] = np.where(cam.depth(X) > 0, e, np.inf)
        return err
