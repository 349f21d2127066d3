"""Synthetic RGB-D samples and posed views generated on the fly (cv2), for the training loops.

A scene is a slanted background plane and a few nearer planar objects (random shapes), each
with its own random texture; depth is exact per layer (a plane's inverse depth is affine in the
pixel coordinates) with z-buffer occlusion. Colours are attenuated with distance (fog), the one
monocular cue besides occlusion that such a scene carries: a toy source to exercise the training
code, not a substitute for rendered 3D scenes.
"""
import numpy as np
import torch

from geom.camera import intrinsic_matrix
from geom.rotation import rotation_from_axis_angle

from ..synthetic import batch_stream, random_mask, random_texture
from ..warp import depth_pose_flow, warp


def _plane_depth(rng, height, width, near, far):
    """Depth `(H, W)` of a random plane whose depth stays within [near, far] over the image."""
    xs, ys = np.meshgrid(np.linspace(-1, 1, width), np.linspace(-1, 1, height))
    inv = 1 / rng.uniform(near, far) + rng.uniform(-0.3, 0.3) / far * xs + rng.uniform(-0.3, 0.3) / far * ys
    return 1 / np.clip(inv, 1 / far, 1 / near)


def make_rgbd(rng, height, width, n_objects=(1, 4), depth_range=(1.0, 10.0), fog=0.08):
    """One sample: image `(H, W, 3)` float32 in [0, 1] and metric depth `(H, W)` float32."""
    rng = np.random.default_rng(rng)
    near, far = depth_range
    depth = _plane_depth(rng, height, width, 0.5 * (near + far), far)
    img = random_texture(rng, height, width)
    for _ in range(rng.integers(n_objects[0], n_objects[1] + 1)):
        mask = random_mask(rng, height, width) > 0.5
        z = _plane_depth(rng, height, width, near, 0.7 * far)
        front = mask & (z < depth)
        depth[front] = z[front]
        img[front] = random_texture(rng, height, width)[front]
    img = img * np.exp(-fog * depth)[..., None] + (1 - np.exp(-fog * depth))[..., None] * 0.7
    return np.clip(img, 0, 1).astype(np.float32), depth.astype(np.float32)


def batches(seed, batch_size, height, width, start=0, stride=1, **scene_options):
    """Endless generator of `(images (B, 3, H, W), depths (B, 1, H, W))` tensors: batches
    number `start, start + stride, ...` of the sequence of `seed` (`synthetic.batch_stream`)."""
    def batch(rng):
        samples = [make_rgbd(rng, height, width, **scene_options) for _ in range(batch_size)]
        return (torch.from_numpy(np.stack([s[0] for s in samples])).permute(0, 3, 1, 2).contiguous(),
                torch.from_numpy(np.stack([s[1] for s in samples]))[:, None])
    return batch_stream(batch, seed, start, stride)


def make_views(rng, height, width, max_rotation=0.03, max_translation=0.3, **scene_options):
    """A target view and one source view with a known relative pose, for self-supervision.

    The target's depth comes from `make_rgbd`; the source image is a random texture and the
    target image is that texture seen through the target depth and pose (exact view synthesis,
    without occlusions). Returns target `(3, H, W)`, sources `(1, 3, H, W)`, K `(3, 3)`,
    R `(1, 3, 3)`, t `(1, 3)` (target camera -> source camera) and depth `(1, H, W)`, as
    float32 tensors."""
    rng = np.random.default_rng(rng)
    _, depth = make_rgbd(rng, height, width, **scene_options)
    f = rng.uniform(0.8, 1.2) * width
    K = intrinsic_matrix(f, f, (width - 1) / 2, (height - 1) / 2)
    R = rotation_from_axis_angle(rng.uniform(-max_rotation, max_rotation, 3))
    t = rng.uniform(-max_translation, max_translation, 3) * np.array([1.0, 0.5, 0.3])
    source = torch.from_numpy(random_texture(rng, height, width)).permute(2, 0, 1)[None]
    d = torch.from_numpy(depth)[None, None]
    Kt, Rt, tt = (torch.from_numpy(a).float()[None] for a in (K, R, t))
    target, _ = warp(source, depth_pose_flow(d, Kt, Rt, tt))
    return target[0], source, Kt[0], Rt, tt, d[0]


def view_batches(seed, batch_size, height, width, start=0, stride=1, **view_options):
    """Endless generator of `(target (B, 3, H, W), sources (B, 1, 3, H, W), K (B, 3, 3),
    R (B, 1, 3, 3), t (B, 1, 3), depth (B, 1, H, W))` tensors: batches number `start,
    start + stride, ...` of the sequence of `seed` (`synthetic.batch_stream`)."""
    def batch(rng):
        samples = [make_views(rng, height, width, **view_options) for _ in range(batch_size)]
        return tuple(torch.stack(parts) for parts in zip(*samples))
    return batch_stream(batch, seed, start, stride)
