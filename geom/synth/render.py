"""Rendering of a `Scene` by numba ray casting, and its ground truth (depth, labels, flow,
occlusion, disparity).

Colour is the mean of `antialias` rotated-grid sub-pixel rays; depth (camera z, inf where nothing
is hit) and labels (0 = static background, 1..B = bodies) come from the ray through the pixel
centre, so they are exact at the pixel coordinates the flow is defined on.
"""
from dataclasses import dataclass

import numpy as np

from .. import _checks
from . import _kernels
from ..camera import Camera
from .scene import PATTERNS, SHAPE_KINDS, Scene

# rotated-grid supersampling patterns (offsets from the pixel centre, in pixels)
_OFFSETS = {
    1: np.zeros((1, 2)),
    4: np.array([[0.125, 0.375], [0.375, -0.125], [-0.125, -0.375], [-0.375, 0.125]]),
}


@dataclass(frozen=True, eq=False)
class Frame:
    """One rendered frame: image (H, W, 3) uint8 RGB, depth (H, W) float32 (camera z, inf where
    nothing is hit), labels (H, W) uint8 (0 background, b = `scene.bodies[b - 1]`), the camera,
    and body_poses: (B,) list of `(R, t)` body -> world."""

    image: np.ndarray
    depth: np.ndarray
    labels: np.ndarray
    camera: Camera
    body_poses: list


@dataclass(frozen=True, eq=False)
class Sequence:
    """A rendered scene: `scene` and its `frames` (one per camera), with pairwise ground truth."""

    scene: Scene
    frames: list

    def flow(self, i, j):
        """Ground-truth optical flow from frame i to frame j: flow (H, W, 2) float32 in pixels and
        occluded (H, W) bool (true where the surface point of pixel x in frame i is out of frame
        j's image, behind its camera, or hidden there; flow is NaN only behind the camera)."""
        return flow(self.scene, i, j, self.frames[i].depth, self.frames[i].labels)

    def disparity(self):
        """Disparity (H, W) float32 `f b / Z` of the left image of a rectified stereo scene."""
        if self.scene.baseline is None:
            raise ValueError("disparity: the scene is not a rectified stereo pair (no baseline)")
        f = self.frames[0].camera.K[0, 0]
        return (f * self.scene.baseline / self.frames[0].depth.astype(np.float64)).astype(np.float32)


def render(scene, antialias=4):
    """Render every frame of `scene` -> `Sequence`. antialias: 4 (rotated grid) or 1 rays/pixel."""
    _check_scene(scene)
    return Sequence(scene, [render_frame(scene, f, antialias) for f in range(scene.n_frames)])


def render_frame(scene, frame, antialias=4):
    """Render frame `frame` of `scene` -> `Frame`."""
    packed = _pack(scene)
    _check_frame(scene, frame, "frame")
    if antialias not in _OFFSETS:
        raise ValueError(f"antialias: expected one of {sorted(_OFFSETS)} rays per pixel, "
                         f"got {antialias}")
    cam = scene.cameras[frame]
    Rs, ts = _shape_poses(scene, frame)
    image, depth, labels = _kernels.render(
        cam.height, cam.width, _cam_vector(cam), cam.t, packed["kind"], packed["size"],
        packed["label"], packed["texi"], packed["texf"], packed["colors"], Rs, ts,
        _light_vector(scene.light), _OFFSETS[antialias])
    rgb = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    poses = [scene.body_pose(b, frame) for b in range(1, len(scene.bodies) + 1)]
    return Frame(rgb, depth.astype(np.float32), labels, cam, poses)


def flow(scene, i, j, depth, labels, rel_tol=1e-4):
    """Ground-truth flow and occlusion from frame i to frame j of `scene`, given frame i's depth
    (H, W) and labels (H, W) (see `Sequence.flow`). `rel_tol`: relative depth tolerance of the
    visibility test in frame j."""
    packed = _pack(scene)
    _check_frame(scene, i, "i")
    _check_frame(scene, j, "j")
    rel_tol = _checks.positive(rel_tol, "rel_tol")
    w, h = scene.image_size
    depth = np.asarray(depth)
    labels = np.asarray(labels)
    if depth.shape != (h, w) or labels.shape != (h, w):
        raise ValueError(f"depth, labels: expected shape ({h}, {w}), "
                         f"got {depth.shape} and {labels.shape}")
    if np.isnan(depth).any() or (depth <= 0).any():
        raise ValueError("depth: expected positive values (inf where nothing is hit), got NaN or <= 0")
    if labels.max(initial=0) > len(scene.bodies):
        raise ValueError(f"labels: values above the number of bodies ({len(scene.bodies)})")
    n = len(scene.bodies) + 1
    motion_R = np.empty((n, 3, 3))
    motion_t = np.empty((n, 3))
    for lab in range(n):  # world motion X_j = M X_i + m of each label between the frames
        Ri, ti = scene.body_pose(lab, i)
        Rj, tj = scene.body_pose(lab, j)
        motion_R[lab] = Rj @ Ri.T
        motion_t[lab] = tj - motion_R[lab] @ ti
    ci, cj = scene.cameras[i], scene.cameras[j]
    Rs, ts = _shape_poses(scene, j)
    return _kernels.flow(np.ascontiguousarray(depth, np.float64), np.ascontiguousarray(labels, np.uint8),
                         _cam_vector(ci), ci.t, _cam_vector(cj), cj.t, motion_R, motion_t,
                         packed["kind"], packed["size"], packed["label"], Rs, ts, rel_tol)


def _check_frame(scene, f, name):
    if int(f) != f or not 0 <= f < scene.n_frames:
        raise ValueError(f"{name}: expected a frame index in [0, {scene.n_frames}), got {f}")


def _check_scene(scene):
    if not isinstance(scene, Scene):
        raise ValueError(f"scene: expected a Scene, got {type(scene).__name__}")


def _pack(scene):
    """Flatten background shapes (label 0) and bodies (label 1..B) into kernel arrays."""
    _check_scene(scene)
    shapes = [b.shape for b in list(scene.background) + list(scene.bodies)]
    labels = [0] * len(scene.background) + list(range(1, len(scene.bodies) + 1))
    return {
        "kind": np.array([SHAPE_KINDS.index(s.kind) for s in shapes], np.int64),
        "size": np.array([s.size for s in shapes], np.float64).reshape(-1, 3),
        "label": np.array(labels, np.int64),
        "texi": np.array([(s.texture.seed, s.texture.octaves, PATTERNS.index(s.texture.pattern))
                          for s in shapes], np.int64).reshape(-1, 3),
        "texf": np.array([(s.texture.scale, s.texture.contrast) for s in shapes],
                         np.float64).reshape(-1, 2),
        "colors": np.array([s.texture.colors for s in shapes], np.float64).reshape(-1, 3, 3),
    }


def _shape_poses(scene, frame):
    """Poses body -> world (S, 3, 3), (S, 3) of every shape at `frame`, in `_pack` order."""
    bodies = list(scene.background) + list(scene.bodies)
    Rs = np.array([b.R[frame] for b in bodies], np.float64).reshape(-1, 3, 3)
    ts = np.array([b.t[frame] for b in bodies], np.float64).reshape(-1, 3)
    return Rs, ts


def _cam_vector(cam):
    K = cam.K
    return np.concatenate([[K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[0, 1]], cam.R.ravel()])


def _light_vector(light):
    d = np.asarray(light.direction, np.float64)
    return np.concatenate([d / np.linalg.norm(d), [light.ambient, light.diffuse]])
