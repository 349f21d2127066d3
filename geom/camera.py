"""Pinhole cameras.

Conventions (see DESIGN.md): pixels `(N, 2)` with x right, y down, origin at the centre of the
top-left pixel; a camera maps world to camera coordinates with `x_cam = R @ X + t`, projects
with `P = K [R | t]`, and has centre `C = -R^T t`. Depth is the camera-frame z coordinate.
"""
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numba import njit

from . import _checks


def intrinsic_matrix(fx, fy=None, cx=0.0, cy=0.0, skew=0.0):
    """Calibration matrix `K` (3, 3) from focal lengths and principal point, in pixels."""
    fx = _checks.positive(fx, "fx")
    fy = fx if fy is None else _checks.positive(fy, "fy")
    return np.array([[fx, skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def to_homogeneous(x):
    """(N, d) -> (N, d + 1) with a trailing column of ones."""
    x = np.asarray(x, dtype=np.float64)
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


def normalize_points(x, K):
    """Normalised image coordinates `K^-1 [x, 1]` dehomogenised: (N, 2) pixels -> (N, 2)."""
    x = _checks.points(x, "x")
    return _normalize_points(x, _checks.intrinsics(K), np.empty_like(x))


def denormalize_points(xn, K):
    """Inverse of `normalize_points`: (N, 2) normalised coordinates -> (N, 2) pixels."""
    xn = _checks.points(xn, "xn")
    K = _checks.intrinsics(K)
    return xn @ K[:2, :2].T + K[:2, 2]


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera `P = K [R | t]` (world to camera: `x_cam = R X + t`).

    K: (3, 3) calibration, R: (3, 3) rotation, t: (3,) translation, width/height: image size in
    pixels or None. Arrays are validated and stored as float64 copies.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int | None = None
    height: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "K", _checks.intrinsics(self.K))
        object.__setattr__(self, "R", _checks.rotation(self.R, "R"))
        object.__setattr__(self, "t", _checks.vector3(self.t, "t").copy())
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None:
                if int(value) != value or value <= 0:
                    raise ValueError(f"{name}: must be a positive integer, got {value}")
                object.__setattr__(self, name, int(value))

    @property
    def P(self):
        """Projection matrix (3, 4)."""
        return self.K @ np.concatenate([self.R, self.t[:, None]], axis=1)

    @property
    def center(self):
        """Camera centre in world coordinates (3,)."""
        return -self.R.T @ self.t

    @property
    def image_size(self):
        """(width, height), or None if unknown."""
        return None if self.width is None else (self.width, self.height)

    def to_camera(self, X):
        """World points (N, 3) -> camera-frame points (N, 3)."""
        return _checks.points(X, "X", 3) @ self.R.T + self.t

    def depth(self, X):
        """Depth (camera-frame z) of world points (N, 3) -> (N,)."""
        return self.to_camera(X)[:, 2]

    def project(self, X):
        """World points (N, 3) -> pixels (N, 2). Points with z <= 0 give inf or meaningless pixels;
        check `depth(X) > 0` where that matters."""
        Xc = self.to_camera(X)
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = Xc[:, :2] / Xc[:, 2:3]
        return xn @ self.K[:2, :2].T + self.K[:2, 2]

    def normalize(self, x):
        """Pixels (N, 2) -> normalised image coordinates `K^-1 x` (N, 2)."""
        return normalize_points(x, self.K)

    def backproject(self, x, depth):
        """Pixels (N, 2) and depths (N,) (camera z) -> world points (N, 3)."""
        xn = self.normalize(x)
        depth = _checks.array(depth, "depth", (xn.shape[0],))
        Xc = to_homogeneous(xn) * depth[:, None]
        return (Xc - self.t) @ self.R

    def rays(self, x):
        """Pixels (N, 2) -> unit viewing directions in world coordinates (N, 3)."""
        d = to_homogeneous(self.normalize(x)) @ self.R
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def in_image(self, x):
        """Mask (N,) of pixels inside the image bounds [-0.5, W - 0.5) x [-0.5, H - 0.5)."""
        if self.width is None:
            raise ValueError("in_image: camera has no image size")
        x = np.asarray(x, dtype=np.float64)
        return ((x[:, 0] >= -0.5) & (x[:, 0] < self.width - 0.5)
                & (x[:, 1] >= -0.5) & (x[:, 1] < self.height - 0.5))

    def with_pose(self, R, t):
        """Same intrinsics and image size, new pose."""
        return Camera(self.K, R, t, self.width, self.height)

    def with_intrinsics(self, K, width=None, height=None):
        """Same pose, new calibration (and image size, kept if not given)."""
        return Camera(K, self.R, self.t, width or self.width, height or self.height)

    @classmethod
    def from_projection(cls, P, width=None, height=None):
        """Camera from a finite projection matrix (3, 4) (see `decompose_projection`)."""
        K, R, t = decompose_projection(P)
        return cls(K, R, t, width, height)


def check_camera(cam, name):
    """Return `cam` if it is a `Camera`, else raise ValueError naming the argument `name`."""
    if not isinstance(cam, Camera):
        raise ValueError(f"{name}: expected a geom.camera.Camera, got {type(cam).__name__}")
    return cam


def _check_baseline(cams, name):
    """Camera centres (V, 3) of the `Camera`s cams; ValueError naming `name` when they all
    coincide (no baseline: no depth, no epipolar geometry)."""
    centres = np.stack([c.center for c in cams])
    spread = np.linalg.norm(centres - centres[0], axis=1).max()
    if spread <= 1e-12 * max(np.linalg.norm(centres, axis=1).max(), 1e-300):
        raise ValueError(f"{name}: all camera centres coincide (zero baseline)")
    return centres


def decompose_projection(P):
    """Split `P` (3, 4) into `K` (3, 3, positive diagonal, K[2,2] = 1), `R` (det +1) and `t` (3,).

    Uses the RQ decomposition of the left 3x3 block; `P` is only known up to scale, including
    sign, and the sign is chosen so that `R` is a rotation.
    """
    P = _checks.array(P, "P", (3, 4))
    M = P[:, :3]
    if abs(np.linalg.det(M)) < 1e-12 * max(1.0, np.abs(M).max() ** 3):
        raise ValueError("P: left 3x3 block is singular (camera at infinity)")
    if np.linalg.det(M) < 0:
        P = -P
        M = -M
    K, R = scipy.linalg.rq(M)
    S = np.diag(np.sign(np.diag(K)))
    K, R = K @ S, S @ R
    t = np.linalg.solve(K, P[:, 3])
    return K / K[2, 2], R, t


def relative_pose(cam1, cam2):
    """Relative pose `(R, t)` mapping camera-1 coordinates to camera-2 coordinates: `X2 = R X1 + t`."""
    R = cam2.R @ cam1.R.T
    return R, cam2.t - R @ cam1.t


def look_at(eye, target, K, *, up=(0.0, -1.0, 0.0), width=None, height=None):
    """Camera at `eye` (3,) whose optical axis points at `target` (3,).

    `up` is the world direction that should appear upwards in the image (image y points down,
    so the default `(0, -1, 0)` makes world -y up, the usual computer-vision frame).
    """
    eye = _checks.vector3(eye, "eye")
    target = _checks.vector3(target, "target")
    up = _checks.vector3(up, "up")
    z = target - eye
    if np.linalg.norm(z) < 1e-12:
        raise ValueError("look_at: eye and target coincide")
    z /= np.linalg.norm(z)
    x = np.cross(-up, z)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: up is parallel to the viewing direction")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return Camera(K, R, -R @ eye, width, height)


# ---------------------------------------------------------------------------- kernels

@njit(cache=True)
def _normalize_points(x, K, out):
    """out (N, 2) = `K^-1 [x, 1]` dehomogenised for pixels x (N, 2) and an upper-triangular K
    (3, 3) with K[2, 2] = 1 (back substitution, no inverse); returns out."""
    for i in range(x.shape[0]):
        out[i, 1] = (x[i, 1] - K[1, 2]) / K[1, 1]
        out[i, 0] = (x[i, 0] - K[0, 2] - K[0, 1] * out[i, 1]) / K[0, 0]
    return out
