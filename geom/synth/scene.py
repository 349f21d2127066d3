"""Scene description: textured shapes, rigid bodies with a pose per frame, a light, cameras.

A body pose `(R, t)` maps body to world coordinates, `X_world = R X_body + t`; cameras follow
the house convention `x_cam = R X_world + t`. The renderer assumes no particular world frame (the
generators use z up with the ground at z = 0).
Shapes are defined in their own (body) coordinates, centred at the origin:

- ``plane``: the z = 0 plane, bounded by |x| <= size[0], |y| <= size[1] (inf for unbounded),
  seen from both sides;
- ``box``: |x| <= size[0], |y| <= size[1], |z| <= size[2] (a slab is a thin box);
- ``sphere``: radius size[0];
- ``room``: the inside of a box of half extents `size` (walls, floor and ceiling seen from within).

Textures are solid (3D) noise evaluated at the body coordinates of the surface point, so they
move rigidly with their body and image flow is exact.
"""
from dataclasses import dataclass, field

import numpy as np

from .. import _checks
from ..camera import Camera

SHAPE_KINDS = ("plane", "box", "sphere", "room")
PATTERNS = ("noise", "checker", "stripes")


@dataclass(frozen=True)
class Texture:
    """Procedural solid texture.

    seed: hash seed of the noise; scale: wavelength in scene units of the coarsest noise octave;
    octaves: number of octaves (each halves the wavelength); colors: (3, 3) RGB in [0, 1] mixed by
    a low-frequency noise; pattern: 'noise', 'checker' or 'stripes' (of wavelength `scale`)
    blended over the noise; contrast: amplitude of the luminance noise in [0, 1].
    """

    seed: int
    scale: float = 1.0
    octaves: int = 8
    colors: tuple = ((0.8, 0.3, 0.2), (0.2, 0.6, 0.3), (0.3, 0.3, 0.8))
    pattern: str = "noise"
    contrast: float = 0.8

    def __post_init__(self):
        if int(self.seed) != self.seed or not 0 <= self.seed < 2**31:
            raise ValueError(f"seed: expected an integer in [0, 2**31), got {self.seed}")
        _checks.positive(self.scale, "scale")
        if int(self.octaves) != self.octaves or not 1 <= self.octaves <= 12:
            raise ValueError(f"octaves: expected an integer in [1, 12], got {self.octaves}")
        c = _checks.array(self.colors, "colors", (3, 3))
        if c.min() < 0 or c.max() > 1:
            raise ValueError("colors: RGB values must lie in [0, 1]")
        if self.pattern not in PATTERNS:
            raise ValueError(f"pattern: expected one of {PATTERNS}, got {self.pattern!r}")
        if not 0 <= self.contrast <= 1:
            raise ValueError(f"contrast: expected a value in [0, 1], got {self.contrast}")


@dataclass(frozen=True)
class Shape:
    """A textured primitive in its own coordinates (see the module docstring for `kind`, `size`)."""

    kind: str
    size: tuple
    texture: Texture

    def __post_init__(self):
        if self.kind not in SHAPE_KINDS:
            raise ValueError(f"kind: expected one of {SHAPE_KINDS}, got {self.kind!r}")
        s = np.asarray(self.size, dtype=np.float64)
        if s.shape != (3,) or np.isnan(s).any() or (s <= 0).any():
            raise ValueError(f"size: expected 3 positive half extents, got {self.size}")
        if self.kind != "plane" and not np.isfinite(s).all():
            raise ValueError(f"size: only a plane may be unbounded, got {self.size} for a {self.kind}")


@dataclass(frozen=True, eq=False)
class Body:
    """A rigid body: a shape and its pose per frame, `R` (F, 3, 3) and `t` (F, 3) body -> world."""

    shape: Shape
    R: np.ndarray
    t: np.ndarray

    def __post_init__(self):
        R = np.ascontiguousarray(self.R, dtype=np.float64)
        if R.ndim != 3 or R.shape[1:] != (3, 3):
            raise ValueError(f"R: expected shape (F, 3, 3), got {R.shape}")
        for f in range(len(R)):
            _checks.rotation(R[f], f"R[{f}]")
        t = _checks.array(self.t, "t", (len(R), 3))
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)

    @classmethod
    def static(cls, shape, n_frames, R=None, t=(0.0, 0.0, 0.0)):
        """A body that keeps one pose (R (3, 3), identity when None; t (3,)) for `n_frames` frames."""
        R = np.eye(3) if R is None else np.asarray(R, float)
        t = np.asarray(t, float)
        return cls(shape, np.repeat(R[None], n_frames, 0), np.repeat(t[None], n_frames, 0))


@dataclass(frozen=True)
class Light:
    """Lambertian lighting: `ambient + diffuse * max(0, n . -direction)`; direction is the world
    direction the light travels (towards the scene). `diffuse = 0` gives flat ambient shading."""

    direction: tuple = (0.3, 0.5, -1.0)
    ambient: float = 0.45
    diffuse: float = 0.65

    def __post_init__(self):
        d = _checks.vector3(self.direction, "direction")
        if np.linalg.norm(d) == 0:
            raise ValueError("direction: must be non-zero")
        if self.ambient < 0 or self.diffuse < 0:
            raise ValueError("ambient, diffuse: must be non-negative")


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything needed to render a sequence.

    cameras: one `Camera` per frame (all with the same image size); background: static bodies
    (label 0; one constant pose per frame, see `Body.static`); bodies: rigid bodies (label 1..B
    in list order) with one pose per frame; light; baseline: for a rectified stereo pair
    (frames 0 = left, 1 = right), the baseline, else None.
    """

    cameras: list
    background: list = field(default_factory=list)
    bodies: list = field(default_factory=list)
    light: Light = Light()
    baseline: float | None = None

    def __post_init__(self):
        if not self.cameras or not all(isinstance(c, Camera) for c in self.cameras):
            raise ValueError("cameras: expected a non-empty list of Camera")
        sizes = {c.image_size for c in self.cameras}
        if len(sizes) != 1 or None in sizes:
            raise ValueError(f"cameras: all need the same known image size, got {sizes}")
        for b, body in enumerate(self.background):
            if (not isinstance(body, Body) or len(body.R) != len(self.cameras)
                    or np.ptp(body.R, axis=0).max() > 0 or np.ptp(body.t, axis=0).max() > 0):
                raise ValueError(f"background[{b}]: expected a static Body (one constant pose per "
                                 f"camera, see Body.static)")
        if len(self.bodies) > 255:
            raise ValueError(f"bodies: at most 255 bodies, got {len(self.bodies)}")
        for b, body in enumerate(self.bodies):
            if not isinstance(body, Body) or len(body.R) != len(self.cameras):
                raise ValueError(f"bodies[{b}]: expected a Body with one pose per camera "
                                 f"({len(self.cameras)})")
        if self.baseline is not None:
            _checks.positive(self.baseline, "baseline")
            if len(self.cameras) != 2:
                raise ValueError("baseline: a stereo scene has exactly two cameras")

    @property
    def n_frames(self):
        return len(self.cameras)

    @property
    def image_size(self):
        """(width, height)."""
        return self.cameras[0].image_size

    def body_pose(self, label, frame):
        """Pose `(R, t)` body -> world of body `label` (1..B; 0, the background, is the identity)."""
        if label == 0:
            return np.eye(3), np.zeros(3)
        body = self.bodies[label - 1]
        return body.R[frame], body.t[frame]

    def relative_pose(self, label, i, j):
        """Relative pose `(R, t)` of camera j with respect to camera i as seen by body `label`:
        a point of that body at `X_i` in camera-i coordinates (frame i) is at `R X_i + t` in
        camera-j coordinates (frame j). Its epipolar geometry is `E = [t]x R`."""
        poses = []
        for f in (i, j):
            Rb, tb = self.body_pose(label, f)
            cam = self.cameras[f]
            poses.append((cam.R @ Rb, cam.R @ tb + cam.t))  # body -> camera f
        (Ai, ai), (Aj, aj) = poses
        R = Aj @ Ai.T
        return R, aj - R @ ai
