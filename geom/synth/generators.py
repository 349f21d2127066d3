"""Random scene generators with a `seed` (same seed -> same scene -> byte-identical images).

World frame z up, ground at z = 0, lengths in metres-like units. Every generator returns a
`Scene`; render it with `geom.synth.render`.

- `stereo_rig`: a calibrated, rectified stereo pair (frame 0 left, frame 1 right) of a static scene.
- `orbit_ring`: a camera orbiting a static textured object on a ground plane (an SfM ring).
- `moving_bodies`: a moving camera in a room with 1..3 independently moving rigid bodies.
- `flying_layers`: FlyingChairs-like textured planar layers moving in front of a far plane.
- `random_scene`: a full 3D room with random shapes, some moving, and a moving camera.
"""
import numpy as np

from .. import _checks
from ..camera import Camera, intrinsic_matrix, look_at
from ..rotation import rotation_from_axis_angle
from .scene import Body, Light, Scene, Shape, Texture


def stereo_rig(seed=0, width=640, height=480, baseline=0.25, n_objects=4):
    """Rectified stereo pair: left camera (frame 0) and right camera (frame 1) with the same `K`
    and rotation, the right centre `baseline` along the left camera's x axis, so that the left
    disparity is `x_left - x_right = f * baseline / Z`. A ground plane, a back wall and
    `n_objects` static objects (labels 1..n_objects)."""
    rng, K = _setup(seed, width, height)
    baseline = _checks.positive(baseline, "baseline")
    eye = np.array([rng.uniform(-0.5, 0.5), -4.0, rng.uniform(1.2, 1.8)])
    left = _look(eye, (rng.uniform(-0.3, 0.3), 0.0, 0.3), K, width, height)
    right = Camera(K, left.R, left.t - np.array([baseline, 0.0, 0.0]), width, height)
    objects = [_random_body(rng, 2, _ground_spot(rng, 1.5, (-1.5, 1.0)), moving=False,
                            facing=eye - (0.0, 0.0, 0.6))
               for _ in range(n_objects)]
    return Scene([left, right], _ground_and_wall(rng, 2, wall_y=4.0), objects, _random_light(rng),
                 baseline=baseline)


def orbit_ring(n_views=24, seed=0, width=640, height=480, radius=4.0, elevation=np.radians(30),
               arc=2 * np.pi):
    """`n_views` cameras on a circle of `radius` around a static textured object (a pedestal, a
    sphere and small blocks, labels 1..) on a ground plane, looking at it from `elevation`
    (radians) above the horizon, spread over `arc` radians (2 pi: a full ring)."""
    rng, K = _setup(seed, width, height)
    n_views = _checks.integer(n_views, "n_views", 2)
    radius = _checks.positive(radius, "radius")
    if not 0 < elevation < np.pi / 2:
        raise ValueError(f"elevation: expected radians in (0, pi/2), got {elevation}")
    step = arc / (n_views if arc >= 2 * np.pi else n_views - 1)
    target = np.array([0.0, 0.0, 0.6])
    cams = []
    for i in range(n_views):
        a = i * step + rng.uniform(-0.02, 0.02)
        eye = target + radius * np.array([np.cos(elevation) * np.cos(a),
                                          np.cos(elevation) * np.sin(a), np.sin(elevation)])
        cams.append(_look(eye, target + rng.normal(scale=0.03, size=3), K, width, height))
    parts = [
        (Shape("box", (0.5, 0.5, 0.4), _random_texture(rng, 0.6)), (0.0, 0.0, 0.4)),
        (Shape("sphere", (0.45, 0.45, 0.45), _random_texture(rng, 0.4)), (0.0, 0.0, 1.25)),
    ]
    for k in range(4):
        a = np.pi / 2 * k + rng.uniform(-0.3, 0.3)
        h = rng.uniform(0.15, 0.35)
        parts.append((Shape("box", (rng.uniform(0.12, 0.25), rng.uniform(0.12, 0.25), h),
                            _random_texture(rng, 0.3)), (0.95 * np.cos(a), 0.95 * np.sin(a), h)))
    bodies = [Body.static(shape, n_views, rotation_from_axis_angle([0, 0, rng.uniform(0, np.pi)]), t)
              for shape, t in parts]
    # no periodic pattern on the ground: it fills most of every view and must match unambiguously
    ground = Shape("plane", (np.inf, np.inf, 1.0), _random_texture(rng, 1.0, ("noise",)))
    return Scene(cams, [Body.static(ground, n_views)], bodies, _random_light(rng))


def moving_bodies(n_bodies=2, n_frames=5, seed=0, width=640, height=480, camera_step=np.radians(4),
                  body_speed=0.08, body_spin=np.radians(5)):
    """A camera moving on an arc around the centre of a textured room (the static background)
    while `n_bodies` rigid bodies (boxes, spheres, slabs; labels 1..n_bodies) translate and spin
    independently. Per frame the camera turns `camera_step` radians around the room centre (large
    values give wide baselines), each body moves `body_speed` units and spins `body_spin` radians
    (boxes and spheres slide on the floor turning about the vertical; slabs float and tumble)."""
    rng, K = _setup(seed, width, height)
    if _checks.integer(n_bodies, "n_bodies", 1) > 8:
        raise ValueError(f"n_bodies: expected an integer in [1, 8], got {n_bodies}")
    n_frames = _frame_count(n_frames)
    a0 = rng.uniform(0, 2 * np.pi)
    cams = []
    for f in range(n_frames):
        a = a0 + f * camera_step
        eye = np.array([3.3 * np.cos(a), 3.3 * np.sin(a), 1.6 + 0.05 * f])
        cams.append(_look(eye, (0.0, 0.0, 0.5), K, width, height))
    lateral = np.array([-np.sin(a0), np.cos(a0), 0.0])
    forward = -np.array([np.cos(a0), np.sin(a0), 0.0])
    bodies = []
    for b in range(n_bodies):  # side by side across the first view, a little apart
        offset = 2.4 * ((b + 0.5) / n_bodies - 0.5) + rng.uniform(-0.15, 0.15)
        start = offset * lateral + rng.uniform(-0.6, 0.4) * forward
        bodies.append(_random_body(rng, n_frames, start, moving=True, speed=body_speed,
                                   spin=body_spin, size_range=(0.3, 0.6), facing=-forward))
    return Scene(cams, [_room(rng, n_frames)], bodies, _random_light(rng))


def flying_layers(seed=0, width=640, height=480, n_layers=None, n_frames=2):
    """FlyingChairs-like: `n_layers` (random 3..7 when None) textured rectangles at depths 2..7
    in front of a far textured plane, each with its own 3D motion (mostly in the image plane, a
    few degrees of rotation), seen by a camera that shifts and turns slightly between frames.
    Here the world is the first camera's frame (z forward, y down); lighting is ambient only, so
    a surface point keeps its colour from frame to frame."""
    rng, K = _setup(seed, width, height)
    n_frames = _frame_count(n_frames)
    n_layers = (int(rng.integers(3, 8)) if n_layers is None
                else _checks.integer(n_layers, "n_layers", 0))
    cam_rot = rng.normal(scale=np.radians(1.0), size=3)
    cam_move = rng.normal(scale=0.05, size=3)
    cams = [Camera(K, rotation_from_axis_angle(f * cam_rot), f * cam_move, width, height)
            for f in range(n_frames)]
    far = Shape("plane", (np.inf, np.inf, 1.0), _random_texture(rng, 3.0))
    layers = []
    fx = K[0, 0]
    for _ in range(n_layers):
        z = rng.uniform(2.0, 7.0)
        centre = np.array([rng.uniform(-0.5, 0.5) * width / fx * z,
                           rng.uniform(-0.5, 0.5) * height / fx * z, z])
        half = rng.uniform(0.1, 0.3) * z * width / fx
        shape = Shape("plane", (half * rng.uniform(0.5, 1.0), half * rng.uniform(0.5, 1.0), 1.0),
                      _random_texture(rng, half))
        R0 = rotation_from_axis_angle([*rng.normal(scale=0.2, size=2), rng.uniform(-np.pi, np.pi)])
        velocity = np.array([*rng.normal(scale=0.03 * z, size=2), rng.normal(scale=0.05 * z)])
        spin = np.array([*rng.normal(scale=0.03, size=2), rng.normal(scale=0.1)])
        layers.append(_trajectory(shape, n_frames, R0, centre, velocity, spin))
    return Scene(cams, [Body.static(far, n_frames, t=(0.0, 0.0, 12.0))], layers,
                 Light(ambient=1.0, diffuse=0.0))


def random_scene(seed=0, width=640, height=480, n_frames=2, n_objects=None, moving_fraction=0.5):
    """A full 3D room with `n_objects` (random 4..9 when None) random boxes, spheres and slabs, a
    fraction `moving_fraction` of them moving, and a camera with a random smooth motion."""
    rng, K = _setup(seed, width, height)
    n_frames = _frame_count(n_frames)
    n_objects = (int(rng.integers(4, 10)) if n_objects is None
                 else _checks.integer(n_objects, "n_objects", 0))
    eye0 = np.array([*rng.uniform(-3.0, 3.0, size=2), rng.uniform(1.0, 2.5)])
    target0 = np.array([*rng.uniform(-1.0, 1.0, size=2), rng.uniform(0.3, 1.0)])
    eye_step = rng.normal(scale=0.1, size=3)
    target_step = rng.normal(scale=0.05, size=3)
    cams = [_look(eye0 + f * eye_step, target0 + f * target_step, K, width, height)
            for f in range(n_frames)]
    objects = []
    for _ in range(n_objects):  # scattered around the first view's target, inside the room,
        while True:             # at least 1.5 from the first camera
            start = np.clip(np.array([*target0[:2] + rng.uniform(-2.5, 2.5, size=2), 0.0]), -5, 5)
            if np.linalg.norm(start[:2] - eye0[:2]) > 1.5:
                break
        objects.append(_random_body(rng, n_frames, start, moving=rng.random() < moving_fraction,
                                    facing=eye0 - target0))
    return Scene(cams, [_room(rng, n_frames)], objects, _random_light(rng))


# ---------------------------------------------------------------------------- building blocks

def _setup(seed, width, height):
    """Generator from `seed` and a calibration with a ~65 degree horizontal field of view."""
    seed = _checks.integer(seed, "seed", 0)
    width = _checks.integer(width, "width", 8)
    height = _checks.integer(height, "height", 8)
    f = 0.78 * width
    return np.random.default_rng(seed), intrinsic_matrix(f, f, (width - 1) / 2, (height - 1) / 2)


def _frame_count(n_frames):
    return _checks.integer(n_frames, "n_frames", 1)


def _look(eye, target, K, width, height):
    return look_at(np.asarray(eye, float), np.asarray(target, float), K, up=(0.0, 0.0, 1.0),
                   width=width, height=height)


def _random_texture(rng, scale, patterns=("noise", "noise", "checker", "stripes")):
    """A texture with a random seed and palette and a pattern drawn from `patterns`."""
    colors = rng.uniform(0.15, 0.95, size=(3, 3))
    pattern = rng.choice(list(patterns))
    return Texture(int(rng.integers(0, 2**31)), float(scale), 10, tuple(map(tuple, colors)),
                   str(pattern), float(rng.uniform(0.6, 1.0)))


def _random_light(rng):
    az = rng.uniform(0, 2 * np.pi)
    return Light((np.cos(az), np.sin(az), -rng.uniform(1.0, 2.0)), rng.uniform(0.4, 0.55),
                 rng.uniform(0.5, 0.7))


def _ground_spot(rng, half_width, y_range):
    return np.array([rng.uniform(-half_width, half_width), rng.uniform(*y_range), 0.0])


def _random_body(rng, n_frames, ground_point, moving, facing, speed=0.08, spin=np.radians(5),
                 size_range=(0.2, 0.5)):
    """A random box, sphere or slab (half extents in `size_range`) above `ground_point`.

    Boxes and spheres rest on the ground and, if `moving`, slide horizontally `speed` units per
    frame while spinning `spin` rad per frame about the vertical (so they never cut the floor);
    slabs float clear of the ground, turned within 45 degrees of `facing` (a world direction,
    towards the camera: a slab seen edge-on is a sliver) and spin about a random axis."""
    kind = rng.choice(["box", "sphere", "slab"])
    if kind == "sphere":
        r = rng.uniform(*size_range)
        size, lift = (r, r, r), r
    elif kind == "box":
        size = tuple(rng.uniform(*size_range, size=3))
        lift = size[2]
    else:
        size = (*rng.uniform(1.2, 1.5) * rng.uniform(*size_range, size=2), rng.uniform(0.03, 0.06))
        lift = np.linalg.norm(size) + 0.1
    shape = Shape("sphere" if kind == "sphere" else "box", size, _random_texture(rng, 0.5 * max(size)))
    if kind == "slab":
        R0 = _facing_rotation(facing, rng.normal(scale=0.45, size=2), rng.uniform(0, 2 * np.pi))
    else:
        R0 = rotation_from_axis_angle([0, 0, rng.uniform(0, np.pi)])
    centre = ground_point + np.array([0.0, 0.0, lift])
    if not moving:
        return Body.static(shape, n_frames, R0, centre)
    heading = rng.uniform(0, 2 * np.pi)
    velocity = speed * np.array([np.cos(heading), np.sin(heading), 0.0])
    axis = rng.normal(size=3) if kind == "slab" else np.array([0.0, 0.0, 1.0])
    omega = rng.choice([-1.0, 1.0]) * spin * axis / np.linalg.norm(axis)
    return _trajectory(shape, n_frames, R0, centre, velocity, omega)


def _facing_rotation(direction, tilt, roll):
    """Rotation body -> world whose body z axis points along `direction` (3,) tilted by `tilt`
    (2,) radians about the body x and y axes, then rolled by `roll` about the body z axis."""
    z = np.asarray(direction, float) / np.linalg.norm(direction)
    helper = (0.0, 0.0, 1.0) if abs(z[2]) < 0.9 else (1.0, 0.0, 0.0)
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    R = np.column_stack([x, np.cross(z, x), z])
    return R @ rotation_from_axis_angle([tilt[0], tilt[1], 0.0]) @ rotation_from_axis_angle([0, 0, roll])


def _trajectory(shape, n_frames, R0, t0, velocity, omega):
    """Body with constant velocity (units/frame) and angular velocity (axis-angle/frame, about
    its own centre, in world axes): `R_f = exp(f omega) R0`, `t_f = t0 + f velocity`."""
    R = np.array([rotation_from_axis_angle(f * np.asarray(omega)) @ R0 for f in range(n_frames)])
    t = np.array([np.asarray(t0) + f * np.asarray(velocity) for f in range(n_frames)])
    return Body(shape, R, t)


def _ground_and_wall(rng, n_frames, wall_y):
    """Unbounded ground plane z = 0 and a vertical back wall y = wall_y."""
    ground = Shape("plane", (np.inf, np.inf, 1.0), _random_texture(rng, 1.0))
    wall = Shape("plane", (np.inf, np.inf, 1.0), _random_texture(rng, 1.0))
    to_wall = rotation_from_axis_angle([np.pi / 2, 0.0, 0.0])  # body z -> world -y
    return [Body.static(ground, n_frames), Body.static(wall, n_frames, to_wall, (0.0, wall_y, 0.0))]


def _room(rng, n_frames, half=(6.0, 6.0, 3.0)):
    """A textured room (floor at z = 0) seen from inside."""
    shape = Shape("room", half, _random_texture(rng, 1.0))
    return Body.static(shape, n_frames, t=(0.0, 0.0, half[2]))
