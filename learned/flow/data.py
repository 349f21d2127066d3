"""Synthetic optical-flow pairs generated on the fly (FlyingChairs-like, with cv2), mixed with
pairs rendered from `geom.synth` scenes (`learned.flow.scenes`) in the training batches.

A pair is a stack of textured layers (a background and a few random shapes), each moved by its
own random affine motion between the two frames; the exact flow of the top-most layer at every
pixel of frame 1 is the ground truth (defined at occluded pixels too, as in FlyingChairs).
"""
import cv2
import numpy as np
import torch

from ..synthetic import batch_stream, random_mask, random_texture
from .scenes import sample


def random_affine(rng, max_shift, max_rot=0.1, max_scale=0.08, centre=(0.0, 0.0)):
    """A random 2x3 affine map about `centre`: rotation, anisotropic scale, shear, translation."""
    a = rng.uniform(-max_rot, max_rot)
    s = 1 + rng.uniform(-max_scale, max_scale, 2)
    shear = rng.uniform(-0.5, 0.5) * max_scale
    A = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array([[s[0], shear], [0, s[1]]])
    c = np.asarray(centre, float)
    return np.hstack([A, (c - A @ c + rng.uniform(-max_shift, max_shift, 2))[:, None]])


def _compose(M2, M1):
    """2x3 affine `M2 o M1`."""
    return np.hstack([M2[:, :2] @ M1[:, :2], (M2[:, :2] @ M1[:, 2] + M2[:, 2])[:, None]])


# Range of the per-pair motion scale (fraction of the image's larger side), drawn log-uniformly:
# sub-pixel to a few pixels (as in Middlebury) as often as FlyingChairs' tens of pixels.
MOTION_RANGE = (0.003, 0.1)


def make_pair(rng, height, width, n_objects=(2, 5), max_motion=None):
    """One training pair: (img1, img2) `(H, W, 3)` float32 in [0, 1] and flow `(H, W, 2)` float32.

    The background moves by a random affine motion whose translation is up to
    `max_motion * max(H, W)` pixels (`max_motion` None: drawn log-uniformly in `MOTION_RANGE`);
    each object follows the background and adds its own affine motion about its centre
    (translation up to twice that). Rotations and scalings shrink with `max_motion` too, so that
    a small-motion pair is small everywhere, not only near the centre."""
    rng = np.random.default_rng(rng)
    if max_motion is None:
        max_motion = float(np.exp(rng.uniform(*np.log(MOTION_RANGE))))
    shift = max_motion * max(height, width)
    k = min(1.0, max_motion / MOTION_RANGE[1])  # rotation and scale relative to the largest
    centre = ((width - 1) / 2, (height - 1) / 2)
    layers = [(None, np.eye(2, 3), random_affine(rng, shift, 0.1 * k, 0.08 * k, centre))]
    for _ in range(rng.integers(n_objects[0], n_objects[1] + 1)):
        mask = random_mask(rng, height, width)
        place = random_affine(rng, 0.3 * max(height, width), 0.5, 0.3, centre)
        m = cv2.moments(mask)
        area = max(m["m00"], 1e-9)  # a degenerate (empty) shape moves about the origin
        own_centre = place @ [m["m10"] / area, m["m01"] / area, 1.0]
        own = _compose(random_affine(rng, 2 * shift, 0.2 * k, 0.15 * k, own_centre), layers[0][2])
        layers.append((mask, place, own))
    img1 = np.zeros((height, width, 3), np.float32)
    img2 = np.zeros_like(img1)
    flow = np.zeros((height, width, 2), np.float32)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    pix = np.stack([xs, ys, np.ones_like(xs)], -1)
    for mask, place, motion in layers:
        tex = random_texture(rng, height, width)
        frame2 = _compose(motion, place)
        for img, M in ((img1, place), (img2, frame2)):
            t = cv2.warpAffine(tex, M, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
            if mask is None:  # the background covers everything
                img[:] = t
                continue
            m = cv2.warpAffine(mask, M, (width, height), flags=cv2.INTER_LINEAR)[..., None]
            img[:] = img * (1 - m) + t * m
        m1 = (np.ones((height, width), bool) if mask is None else
              cv2.warpAffine(mask, place, (width, height), flags=cv2.INTER_NEAREST) > 0.5)
        inv = cv2.invertAffineTransform(place)
        x2 = pix @ _compose(frame2, inv).T
        flow[m1] = (x2 - pix[..., :2])[m1]
    return img1, img2, flow


def _colour_change(rng):
    """A random (3, 3) colour matrix: saturation scaled by a factor in [0, 1.5] (0: grey) and
    hue rotated by up to 180 degrees about the grey axis."""
    grey = np.full((3, 3), 1 / 3)
    a = rng.uniform(-np.pi, np.pi)
    u = np.ones(3) / np.sqrt(3)
    K = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    hue = np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K
    return (grey + rng.uniform(0, 1.5) * hue @ (np.eye(3) - grey)).astype(np.float32)


def photometric_jitter(rng, *images, asymmetric=0.2, colour=False):
    """Random brightness, contrast, gamma and colour gains (augmentation) on float32 images
    `(H, W, 3)`, and with `colour` a random saturation and hue (`_colour_change`): the same
    change on all of them, or, with probability `asymmetric`, its own on each (as in RAFT).
    Sensor noise is each image's own. Returns the list of jittered images."""
    def draw():
        return (rng.uniform(0.8, 1.2, 3).astype(np.float32) * rng.uniform(0.8, 1.2),
                rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.25),
                _colour_change(rng) if colour else None)
    shared = None if rng.random() < asymmetric else draw()
    out = []
    for img in images:
        gain, contrast, gamma, mix = shared or draw()
        x = img if mix is None else np.clip(img @ mix.T, 0, 1)
        x = np.clip(np.clip((x - 0.5) * contrast + 0.5, 0, 1) * gain, 0, 1) ** gamma
        out.append(np.clip(x + rng.normal(0, 0.01, img.shape), 0, 1).astype(np.float32))
    return out


def batches(seed, batch_size, height, width, augment=True, colour=False, start=0, stride=1,
            scenes=None, scene_fraction=0.5, **pair_options):
    """Endless generator of training batches `(img1, img2, flow)` as tensors `(B, 3, H, W)`,
    `(B, 3, H, W)`, `(B, 2, H, W)`: batches number `start, start + stride, ...` of the
    deterministic sequence of `seed` (see `learned.synthetic.batch_stream`). `scenes`: the
    rendered pairs `(images, flows)` of `scenes.render_pairs`, from which a fraction
    `scene_fraction` of the pairs is drawn (`scenes.sample`), the others being `make_pair`'s.
    `augment`: photometric jitter (`colour`: with saturation and hue)."""
    def pair(rng):
        if scenes is not None and rng.random() < scene_fraction:
            return sample(rng, *scenes, height, width)
        return make_pair(rng, height, width, **pair_options)

    def batch(rng):
        pairs = [pair(rng) for _ in range(batch_size)]
        if augment:
            pairs = [(*photometric_jitter(rng, a, b, colour=colour), f) for a, b, f in pairs]
        return tuple(torch.from_numpy(np.stack([p[k] for p in pairs])).permute(0, 3, 1, 2).contiguous()
                     for k in range(3))
    return batch_stream(batch, seed, start, stride)
