"""Losses for monocular depth, on torch tensors `(B, 1, H, W)` (depth or disparity maps) and
`(B, C, H, W)` images in [0, 1]. `mask` arguments are bool `(B, 1, H, W)`: pixels that count
(e.g. where ground truth exists); None means all. Each returns a scalar tensor unless said.
"""
import torch
import torch.nn.functional as F

from ..warp import depth_pose_flow, disparity_to_flow, warp


def _mask(x, mask):
    return torch.ones_like(x, dtype=torch.bool) if mask is None else mask.bool().expand_as(x)


def _masked_mean(x, mask):
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp_min(1.0)


def _log_diff(pred, target, mask, eps=1e-6):
    mask = _mask(pred, mask) & (target > eps)
    d = torch.log(pred.clamp_min(eps)) - torch.log(target.clamp_min(eps))
    return torch.where(mask, d, torch.zeros_like(d)), mask


def scale_invariant_log_loss(pred, target, mask=None, lam=0.5):
    """Eigen et al. (2014): `mean(d^2) - lam mean(d)^2` with `d = log pred - log target`, means
    per image then over the batch. `lam=1` makes it invariant to a global scale of `pred`;
    `lam=0` is the plain mean squared log error."""
    d, mask = _log_diff(pred, target, mask)
    n = mask.flatten(1).sum(1).clamp_min(1).to(d.dtype)
    mean = d.flatten(1).sum(1) / n
    mean_sq = (d ** 2).flatten(1).sum(1) / n
    return (mean_sq - lam * mean ** 2).mean()


def _dx(x):
    return x[..., :, 1:] - x[..., :, :-1]


def _dy(x):
    return x[..., 1:, :] - x[..., :-1, :]


def gradient_loss(pred, target, mask=None, scales=4):
    """Multi-scale gradient matching on log differences (Li & Snavely, MegaDepth):
    `mean |dx R| + |dy R|` with `R = log pred - log target`, at strides 1, 2, ..., 2^(scales-1);
    scale-invariant (a global factor on `pred` adds a constant to R)."""
    d, mask = _log_diff(pred, target, mask)
    total = pred.new_zeros(())
    for s in range(scales):
        ds, ms = d[..., ::2 ** s, ::2 ** s], mask[..., ::2 ** s, ::2 ** s]
        if ds.shape[-1] > 1:
            total = total + _masked_mean(_dx(ds).abs(), ms[..., :, 1:] & ms[..., :, :-1])
        if ds.shape[-2] > 1:
            total = total + _masked_mean(_dy(ds).abs(), ms[..., 1:, :] & ms[..., :-1, :])
    return total


def surface_normals(depth):
    """Unit normals `(B, 3, H-1, W-1)` of a depth map in pixel units: `(-dz/dx, -dz/dy, 1)`
    normalised (forward differences)."""
    gx = _dx(depth)[..., :-1, :]
    gy = _dy(depth)[..., :, :-1]
    n = torch.cat([-gx, -gy, torch.ones_like(gx)], dim=1)
    return n / n.norm(dim=1, keepdim=True)


def normal_loss(pred, target, mask=None):
    """Surface-normal loss (Hu et al. 2019): `mean(1 - <n_pred, n_target>)` over pixels whose
    finite-difference neighbours are all valid."""
    m = _mask(pred, mask)
    m = m[..., :-1, :-1] & m[..., 1:, :-1] & m[..., :-1, 1:]
    cos = (surface_normals(pred) * surface_normals(target)).sum(1, keepdim=True)
    return _masked_mean(1 - cos, m)


def ssim(x, y, c1=0.01 ** 2, c2=0.03 ** 2):
    """Per-pixel structural similarity `(B, C, H, W)` over 3x3 windows (reflection padding),
    as in Monodepth."""
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mx, my = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sx = F.avg_pool2d(x * x, 3, 1) - mx ** 2
    sy = F.avg_pool2d(y * y, 3, 1) - my ** 2
    sxy = F.avg_pool2d(x * y, 3, 1) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sx + sy + c2))


def photometric_error(target, warped, alpha=0.85):
    """Per-pixel photometric error `(B, 1, H, W)`: `alpha (1 - SSIM) / 2 + (1 - alpha) |L1|`,
    averaged over channels (Godard et al. 2017)."""
    s = ((1 - ssim(target, warped)) / 2).clamp(0, 1).mean(1, keepdim=True)
    return alpha * s + (1 - alpha) * (target - warped).abs().mean(1, keepdim=True)


def photometric_loss(target, source, flow, mask=None, alpha=0.85):
    """Photometric loss of reconstructing `target` by warping `source` with `flow (B, 2, H, W)`
    (`target[y, x] ~ source[y + v, x + u]`, bilinear, differentiable in `flow` and `source`);
    pixels that sample outside `source` are left out."""
    warped, inside = warp(source, flow)
    return _masked_mean(photometric_error(target, warped, alpha), _mask(inside, mask) & inside)


def stereo_photometric_loss(left, right, disp_left, mask=None, alpha=0.85):
    """Monodepth: reconstruct the left image from the right one with the left disparity
    `(B, 1, H, W)` in pixels (left pixel `x` is at `x - d` in the right image)."""
    return photometric_loss(left, right, disparity_to_flow(disp_left, -1.0), mask, alpha)


def lr_consistency_loss(disp_left, disp_right):
    """Left-right disparity consistency (Godard et al. 2017): `mean |d_L(x) - d_R(x - d_L(x))|`
    plus the symmetric term for the right map, on pixels that sample inside the image."""
    r_in_l, ok_l = warp(disp_right, disparity_to_flow(disp_left, -1.0))
    l_in_r, ok_r = warp(disp_left, disparity_to_flow(disp_right, 1.0))
    return _masked_mean((disp_left - r_in_l).abs(), ok_l) + _masked_mean((disp_right - l_in_r).abs(), ok_r)


def smoothness_loss(disp, img):
    """Edge-aware smoothness (Godard et al. 2017): `mean |dx d*| exp(-|dx I|) + |dy d*| exp(-|dy I|)`
    on the mean-normalised disparity `d* = d / mean(d)` (per image)."""
    d = disp / disp.mean(dim=(2, 3), keepdim=True).clamp_min(1e-7)
    wx = torch.exp(-_dx(img).abs().mean(1, keepdim=True))
    wy = torch.exp(-_dy(img).abs().mean(1, keepdim=True))
    return (_dx(d).abs() * wx).mean() + (_dy(d).abs() * wy).mean()


def min_reprojection_loss(target, sources, flows, alpha=0.85, automask=True):
    """Per-pixel minimum reprojection with auto-masking (Godard et al. 2019, Monodepth2).

    `sources`: list of images `(B, C, H, W)` seen from other viewpoints; `flows`: the flows
    `(B, 2, H, W)` from `target` into each source (e.g. `warp.depth_pose_flow` of the predicted
    depth and the known poses). At each pixel the smallest photometric error over the warped
    sources counts; with `automask`, pixels where an unwarped source already matches better
    (static scene relative to the camera, textureless areas) are left out.
    Returns (loss, mask `(B, 1, H, W)` of the pixels that counted)."""
    if len(sources) == 0 or len(sources) != len(flows):
        raise ValueError(f"sources and flows: expected equal non-empty lists, "
                         f"got {len(sources)} and {len(flows)}")
    errors = []
    for src, flow in zip(sources, flows):
        warped, inside = warp(src, flow)
        err = photometric_error(target, warped, alpha)
        errors.append(torch.where(inside, err, torch.full_like(err, 1e3)))
    reproj = torch.cat(errors, dim=1).min(dim=1, keepdim=True).values
    mask = reproj < 1e3  # seen inside at least one source
    if automask:
        identity = torch.cat([photometric_error(target, s, alpha) for s in sources], dim=1)
        mask = mask & (reproj < identity.min(dim=1, keepdim=True).values)
    return _masked_mean(reproj, mask), mask


def view_synthesis_loss(depths, target, sources, K, R, t, smooth_weight=1e-3, alpha=0.85, automask=True):
    """Self-supervised loss of a depth prediction for `target` from other views with KNOWN
    relative poses (from our geometry instead of a pose network; a rectified stereo pair is
    the case `R = I`, `t = (-baseline, 0, 0)`).

    `depths`: list of multi-scale predictions `(B, 1, h, w)` of the target's depth (camera z);
    `target (B, C, H, W)`; `sources (B, S, C, H, W)`; `K (B, 3, 3)` shared by all views;
    `R (B, S, 3, 3)`, `t (B, S, 3)` map target-camera coordinates to each source camera
    (`X_s = R X + t`). Per scale (depth upsampled to full resolution): per-pixel minimum
    reprojection with auto-masking, plus `smooth_weight / 2^scale` times the edge-aware
    smoothness of the inverse depth at the prediction's own resolution (Monodepth2)."""
    total = target.new_zeros(())
    views = sources.unbind(1)
    for s, depth in enumerate(depths):
        full = depth if depth.shape[-2:] == target.shape[-2:] else F.interpolate(
            depth, size=target.shape[-2:], mode="bilinear", align_corners=False)
        flows = [depth_pose_flow(full, K, R[:, k], t[:, k]) for k in range(len(views))]
        total = total + min_reprojection_loss(target, views, flows, alpha, automask)[0]
        small = F.interpolate(target, size=depth.shape[-2:], mode="area")
        total = total + smooth_weight / 2 ** s * smoothness_loss(1 / depth, small)
    return total


def _nearest_squared_distance(points, sorted_set):
    """Squared distance `(N,)` from each of `points (N,)` to the nearest value of the increasing
    1-D `sorted_set (M,)`: one of the two neighbours found by binary search."""
    i = torch.searchsorted(sorted_set.detach().contiguous(), points.detach().contiguous())
    below = sorted_set[(i - 1).clamp_min(0)]
    above = sorted_set[i.clamp_max(len(sorted_set) - 1)]
    return torch.minimum((points - below) ** 2, (points - above) ** 2)


def bin_centre_loss(centres, values, mask=None):
    """AdaBins bin-centre loss (Bhat et al. 2021): the bidirectional Chamfer distance between
    the bin centres `(B, n)` of each image and its valid target values `(B, 1, H, W)`, both in
    the space the bins live in (e.g. log depth): the mean squared distance from each centre to
    the nearest value plus the mean squared distance from each value to the nearest centre,
    averaged over the images that have a valid value (0 if none has). The sets are 1-D, so the
    nearest neighbours come from sorting, in O((N + n) log N), not from an N x n matrix."""
    if centres.ndim != 2 or values.ndim != 4 or len(centres) != len(values) or centres.shape[1] == 0:
        raise ValueError(f"centres and values: expected (B, n) with n > 0 and (B, 1, H, W), "
                         f"got {tuple(centres.shape)} and {tuple(values.shape)}")
    mask = _mask(values, mask)
    losses = []
    for c, v, m in zip(centres, values, mask):
        v = v[m]
        if len(v):
            losses.append(_nearest_squared_distance(c, torch.sort(v).values).mean()
                          + _nearest_squared_distance(v, torch.sort(c).values).mean())
    return torch.stack(losses).mean() if losses else centres.new_zeros(())
