"""Optical-flow evaluation on numpy flow maps `(H, W, 2)` (pixels, image 1 -> image 2)."""
import cv2
import numpy as np


def _check(flow, gt, valid):
    flow, gt = np.asarray(flow, np.float64), np.asarray(gt, np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape != gt.shape:
        raise ValueError(f"flow and gt: expected two (H, W, 2) arrays, got {flow.shape} and {gt.shape}")
    valid = np.ones(flow.shape[:2], bool) if valid is None else np.asarray(valid, bool)
    if valid.shape != flow.shape[:2]:
        raise ValueError(f"valid: expected shape {flow.shape[:2]}, got {valid.shape}")
    if not valid.any():
        raise ValueError("valid: no pixel has ground truth")
    return flow, gt, valid


def endpoint_error(flow, gt, valid=None):
    """Per-pixel end-point error `|flow - gt|` `(H, W)` (NaN where not `valid`)."""
    flow, gt, valid = _check(flow, gt, valid)
    return np.where(valid, np.linalg.norm(flow - gt, axis=-1), np.nan)


def epe(flow, gt, valid=None):
    """Mean end-point error over the valid pixels."""
    return float(np.nanmean(endpoint_error(flow, gt, valid)))


def fl_all(flow, gt, valid=None):
    """KITTI Fl-all: fraction of valid pixels whose end-point error is above 3 px AND above 5%
    of the true flow magnitude."""
    flow, gt, valid = _check(flow, gt, valid)
    err = np.linalg.norm(flow - gt, axis=-1)[valid]
    mag = np.linalg.norm(gt, axis=-1)[valid]
    return float(np.mean((err > 3.0) & (err > 0.05 * mag)))


def forward_backward_consistency(forward, backward, alpha=0.01, beta=0.5):
    """Forward-backward check (Sundaram et al. 2010) as a confidence.

    `forward`: flow image 1 -> 2, `backward`: flow image 2 -> 1, both `(H, W, 2)`. The backward
    flow is sampled at `x + forward(x)`; a pixel is consistent when
    `|f + b|^2 < alpha (|f|^2 + |b|^2) + beta` and its target lies inside image 2.
    Returns (error `|f + b|` in pixels `(H, W)`, inf where it leaves the image; consistent
    `(H, W)` bool)."""
    forward, backward, _ = _check(forward, backward, None)
    h, w = forward.shape[:2]
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    mx = (xs + forward[..., 0]).astype(np.float32)
    my = (ys + forward[..., 1]).astype(np.float32)
    b = cv2.remap(backward.astype(np.float32), mx, my, cv2.INTER_LINEAR,
                  borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(np.float64)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    sq = ((forward + b) ** 2).sum(-1)
    bound = alpha * ((forward ** 2).sum(-1) + (b ** 2).sum(-1)) + beta
    err = np.where(inside, np.sqrt(sq), np.inf)
    return err, inside & (sq < bound)
