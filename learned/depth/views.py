"""Posed real views for self-supervised depth training: images with known cameras, no pose
network. Two sources:

- a sequence or image set with its cameras, e.g. the `cameras.json` that `mvdepth sfm` writes
  (poses from our geometry): `sequence_groups` makes every image a target whose sources are the
  images with the nearest camera centres;
- rectified stereo pairs (Monodepth2's stereo training): `stereo_groups` reads a list file with
  one line per pair, `LEFT RIGHT fx fy cx cy baseline` (paths relative to the file; the right
  camera is the left one moved by `baseline` along its x axis, so `X_right = X_left - (b, 0, 0)`),
  and makes each image of a pair the target of the other.

A `ViewGroup` holds a target image, its sources, the intrinsics `K (3, 3)` they share and the
relative poses target -> source `R (S, 3, 3)`, `t (S, 3)` (`X_s = R X + t`, house convention).
`batches` resizes whole images to the training size (K scaled per axis, pixel centres kept:
`x' = s (x + 1/2) - 1/2`) and yields what `losses.view_synthesis_loss` takes;
`calibrate_scale` brings a network of arbitrary scale into the scale of the poses before
training, and `photometric_check` is the final check of a model trained on such views.
"""
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from geom.camera import Camera

from ..images import read_rgb
from ..synthetic import batch_stream
from ..warp import depth_pose_flow, warp
from .losses import min_reprojection_loss, photometric_error


@dataclass(frozen=True, eq=False)
class ViewGroup:
    """A target image (path), its source images (paths), their shared intrinsics `K (3, 3)` and
    image size `(W, H)`, and the poses target -> each source: `R (S, 3, 3)`, `t (S, 3)`."""

    target: Path
    sources: tuple
    K: np.ndarray
    size: tuple
    R: np.ndarray
    t: np.ndarray


def _same_camera(a, b):
    return (a.width, a.height) == (b.width, b.height) and np.allclose(a.K, b.K, rtol=1e-6, atol=1e-9)


def sequence_groups(cameras, folder, n_sources=2):
    """One `ViewGroup` per image of `cameras` (dict image file name -> `geom.camera.Camera` with
    its size, e.g. `geom.io.load_cameras_json` of `mvdepth sfm`'s output; images in `folder`):
    its sources are the `n_sources` other images whose camera centres are nearest (ties by
    name). All images must share one camera (K and size), as the view-synthesis loss assumes."""
    names = sorted(cameras)
    if n_sources < 1 or len(names) < n_sources + 1:
        raise ValueError(f"cameras: {len(names)} image(s), need at least n_sources + 1 = "
                         f"{n_sources + 1} (n_sources >= 1)")
    first = cameras[names[0]]
    for name in names:
        cam = cameras[name]
        if not isinstance(cam, Camera) or cam.width is None:
            raise ValueError(f"cameras[{name!r}]: expected a Camera with a known image size")
        if not _same_camera(cam, first):
            raise ValueError(f"cameras: {name!r} and {names[0]!r} have different intrinsics or "
                             "sizes; self-supervised views need one camera")
    folder = Path(folder)
    centres = np.array([cameras[n].center for n in names])
    groups = []
    for i, name in enumerate(names):
        dist = np.linalg.norm(centres - centres[i], axis=1)
        dist[i] = np.inf
        picks = np.argsort(dist, kind="stable")[:n_sources]
        Rt, tt = cameras[name].R, cameras[name].t
        R = np.stack([cameras[names[j]].R @ Rt.T for j in picks])
        t = np.stack([cameras[names[j]].t - R[k] @ tt for k, j in enumerate(picks)])
        groups.append(ViewGroup(folder / name, tuple(folder / names[j] for j in picks), first.K.copy(),
                                first.image_size, R, t))
    return groups


def stereo_groups(list_file):
    """Two `ViewGroup`s per rectified pair of the list file (see the module docstring): the left
    image with the right one as source and the other way round."""
    list_file = Path(list_file)
    groups = []
    for number, line in enumerate(list_file.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        try:
            fx, fy, cx, cy, b = values = [float(v) for v in fields[2:]]
            valid = len(fields) == 7 and np.isfinite(values).all() and min(fx, fy, b) > 0
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(f"{list_file}:{number}: expected 'LEFT RIGHT fx fy cx cy baseline' "
                             f"(finite numbers, fx, fy, baseline > 0), got {line.strip()!r}")
        left, right = (list_file.parent / f for f in fields[:2])
        size = image_size(left)
        if image_size(right) != size:
            raise ValueError(f"{list_file}:{number}: {left.name} and {right.name} differ in size")
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        for target, source, sign in ((left, right, -1.0), (right, left, 1.0)):
            groups.append(ViewGroup(target, (source,), K, size, np.eye(3)[None],
                                    np.array([[sign * b, 0.0, 0.0]])))
    if not groups:
        raise ValueError(f"{list_file}: no stereo pairs listed")
    return groups


def image_size(path):
    h, w = read_rgb(path).shape[:2]
    return w, h


def resized_intrinsics(K, size, new_size):
    """`K` of an image of `size = (W, H)` resized to `new_size`, in the house pixel convention."""
    sx, sy = new_size[0] / size[0], new_size[1] / size[1]
    S = np.array([[sx, 0.0, (sx - 1) / 2], [0.0, sy, (sy - 1) / 2], [0.0, 0.0, 1.0]])
    return S @ K


def flipped(K, R, t, width):
    """The intrinsics and poses of the left-right mirrored views (images of `width` pixels):
    `x -> W - 1 - x` is the reflection `M = diag(-1, 1, 1)` of the camera frames."""
    M = np.diag([-1.0, 1.0, 1.0])
    Kf = K.copy()
    Kf[0, 1] = -K[0, 1]
    Kf[0, 2] = width - 1 - K[0, 2]
    return Kf, M @ R @ M, t @ M


def load_images(groups, height, width):
    """Every image of `groups`, resized to `(height, width)`: dict path -> float32 `(H, W, 3)`."""
    paths = sorted({p for g in groups for p in (g.target, *g.sources)})
    return {p: cv2.resize(read_rgb(p), (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
            for p in paths}


def group_sample(images, g, height, width, rng=None):
    """The views of group `g` from `load_images`' `images`: target `(3, H, W)`, sources
    `(S, 3, H, W)`, `K (3, 3)`, `R (S, 3, 3)`, `t (S, 3)`, all float32 arrays. With a numpy
    `rng`, augmented: mirrored half of the time (poses mirrored with them) and one photometric
    jitter (gamma, gain, colour balance) for all views."""
    K = resized_intrinsics(g.K, g.size, (width, height))
    views = np.stack([images[p] for p in (g.target, *g.sources)])
    R, t = g.R, g.t
    if rng is not None:
        if rng.random() < 0.5:
            views = views[:, :, ::-1]
            K, R, t = flipped(K, R, t, width)
        views = views ** rng.uniform(0.8, 1.25) * rng.uniform(0.8, 1.2) * rng.uniform(0.9, 1.1, 3)
    views = np.clip(views, 0, 1).transpose(0, 3, 1, 2)
    return tuple(np.ascontiguousarray(a, dtype=np.float32) for a in (views[0], views[1:], K, R, t))


def batches(seed, batch_size, height, width, start=0, stride=1, groups=()):
    """Endless generator of `(target (B, 3, H, W), sources (B, S, 3, H, W), K (B, 3, 3),
    R (B, S, 3, 3), t (B, S, 3))` tensors (batches `start, start + stride, ...` of `seed`,
    `synthetic.batch_stream`) of augmented `group_sample`s of random `groups` (all with the same
    number of sources S), whole images resized to `(height, width)`."""
    groups = list(groups)
    if not groups or len({len(g.sources) for g in groups}) != 1:
        raise ValueError("groups: expected a non-empty list of view groups with equal source counts")
    images = load_images(groups, height, width)

    def batch(rng):
        parts = zip(*(group_sample(images, groups[i], height, width, rng)
                      for i in rng.integers(0, len(groups), batch_size)))
        return tuple(torch.from_numpy(np.stack(p)) for p in parts)
    return batch_stream(batch, seed, start, stride)


@torch.no_grad()
def photometric_check(model, groups, height, width, device="cpu"):
    """The check of a model trained on real views: `{'photometric': mean per-pixel minimum
    reprojection error (no auto-masking) over the target pixels that land inside a source,
    'seen': the fraction of such pixels}` of the finest depth of `model`, over every target of
    the `ViewGroup`s `groups`, unaugmented, at `(height, width)` (NaN when none is seen)."""
    model.to(device).eval()
    images = load_images(groups, height, width)
    total, seen = 0.0, 0
    for g in groups:
        target, sources, K, R, t = (torch.from_numpy(a)[None].to(device)
                                    for a in group_sample(images, g, height, width))
        depth = model(target)[0]
        flows = [depth_pose_flow(depth, K, R[:, k], t[:, k]) for k in range(sources.shape[1])]
        error, mask = min_reprojection_loss(target, list(sources.unbind(1)), flows, automask=False)
        n = int(mask.sum())
        total, seen = total + error.item() * n, seen + n
    return {"photometric": total / seen if seen else float("nan"), "seen": seen / (len(groups) * height * width)}


@torch.no_grad()
def scale_error(depth, target, sources, K, R, t):
    """Mean photometric error of the views `(target (B, 3, H, W), sources (B, S, 3, H, W), K, R, t)`
    explained by `depth (B, 1, H, W)`, auto-masked: per pixel the smallest error over the
    warped sources (those it lands inside) and the unwarped ones. A depth that sends pixels out
    of view scores like no motion there, and pixels that no motion explains (a static or
    uniform background) cannot outweigh those that move: on a dark background, an unmasked
    score picks a depth that sends the whole image out of view."""
    errors = []
    for k, src in enumerate(sources.unbind(1)):
        image, inside = warp(src, depth_pose_flow(depth, K, R[:, k], t[:, k]))
        errors.append(torch.where(inside, photometric_error(target, image), torch.full_like(depth, 1e3)))
        errors.append(photometric_error(target, src))
    return torch.cat(errors, dim=1).min(dim=1, keepdim=True).values.mean().item()


@torch.no_grad()
def calibrate_scale(model, batch, factors=np.geomspace(1e-3, 1e3, 49)):
    """Rescale `model` (`UNet.rescale`) by the factor of `factors`, refined by steps of 2^(1/8),
    whose finest depth explains the posed views `batch` (a `batches` tuple) best
    (`scale_error`): a network of arbitrary scale (e.g. `unet-synth`, up to scale) starts in
    the scale of the poses, where the photometric loss has a basin. Returns the factor."""
    model.eval()
    depth = model(batch[0])[0]

    def best(candidates):
        return min(candidates, key=lambda s: scale_error(s * depth, *batch[:5]))
    s = best(factors)
    s = best(s * 2.0 ** (np.arange(-8, 9) / 8))
    model.rescale(float(s))
    return float(s)
