"""Depth evaluation (numpy): the standard error and accuracy measures, after an optional
alignment of the prediction to the ground truth (per-image median scaling, or least-squares
scale and shift in depth or in inverse depth, the MiDaS protocol)."""
import numpy as np

ALIGNMENTS = (None, "median", "scale-shift", "inverse-scale-shift")


def align_median(pred, gt):
    """`pred * median(gt) / median(pred)` (1-D arrays of valid pixels)."""
    return pred * (np.median(gt) / np.median(pred))


def align_scale_shift(pred, gt):
    """`s * pred + t` with `(s, t)` minimising `sum (s pred + t - gt)^2` (1-D arrays)."""
    A = np.stack([pred, np.ones_like(pred)], axis=1)
    (s, t), *_ = np.linalg.lstsq(A, gt, rcond=None)
    return s * pred + t


def depth_metrics(pred, gt, mask=None, align=None, min_depth=1e-3, max_depth=None):
    """Errors of a depth map `pred (H, W)` against `gt (H, W)` on `mask` (default: gt > 0 and
    finite). `align`: None (metric), 'median', 'scale-shift' (in depth), or
    'inverse-scale-shift' (`pred` is an affine-invariant inverse depth, aligned to `1 / gt`,
    floored at `1 / max_depth` (default: 1 / the largest gt depth) and inverted: MiDaS).
    Predicted depths are clipped to `[min_depth, max_depth]` (`max_depth` None: no upper bound).

    Returns a dict: abs_rel, sq_rel, rmse, rmse_log, delta1, delta2, delta3 (fraction with
    `max(p/g, g/p) < 1.25^k`) and si_log, Eigen's scale-invariant error
    `sqrt(mean(d^2) - mean(d)^2)` with `d = log p - log g` (natural log, not times 100)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"pred and gt: expected two (H, W) arrays, got {pred.shape} and {gt.shape}")
    if align not in ALIGNMENTS:
        raise ValueError(f"align: expected one of {ALIGNMENTS}, got {align!r}")
    valid = np.isfinite(gt) & (gt > 0)
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != gt.shape:
            raise ValueError(f"mask: expected shape {gt.shape}, got {mask.shape}")
        valid &= mask
    valid &= np.isfinite(pred)
    if valid.sum() < 2:
        raise ValueError("gt: fewer than 2 valid pixels to evaluate")
    p, g = pred[valid], gt[valid]
    if align == "median":
        p = align_median(p, g)
    elif align == "scale-shift":
        p = align_scale_shift(p, g)
    elif align == "inverse-scale-shift":
        p = 1.0 / np.maximum(align_scale_shift(p, 1.0 / g), 1.0 / (max_depth or g.max()))
    p = np.clip(p, min_depth, max_depth)
    ratio = np.maximum(p / g, g / p)
    d = np.log(p) - np.log(g)
    return {
        "abs_rel": float(np.mean(np.abs(p - g) / g)),
        "sq_rel": float(np.mean((p - g) ** 2 / g)),
        "rmse": float(np.sqrt(np.mean((p - g) ** 2))),
        "rmse_log": float(np.sqrt(np.mean(d ** 2))),
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25 ** 2)),
        "delta3": float(np.mean(ratio < 1.25 ** 3)),
        "si_log": float(np.sqrt(max(np.mean(d ** 2) - np.mean(d) ** 2, 0.0))),
    }
