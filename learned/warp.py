"""Differentiable bilinear warping (torch `grid_sample`) in the house pixel convention.

Pixel `(x, y)`: x right, y down, origin at the centre of the top-left pixel, so pixel `x` maps to
the normalised grid coordinate `2 x / (W - 1) - 1` with `align_corners=True`.
"""
import torch
import torch.nn.functional as F


def pixel_grid(b, h, w, device=None, dtype=torch.float32):
    """Pixel coordinates `(B, 2, H, W)`: channel 0 is x, channel 1 is y."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype),
                            torch.arange(w, device=device, dtype=dtype), indexing="ij")
    return torch.stack([xs, ys])[None].expand(b, 2, h, w)


def sample(img, coords):
    """Bilinearly sample `img (B, C, H, W)` at pixel positions `coords (B, 2, H', W')`: returns
    `(B, C, H', W')`, with zeros contributing outside the image."""
    h, w = img.shape[-2:]
    # scalar arithmetic on the sizes, no tensor built from them: an ONNX export traces it, so
    # that the exported network works at any image size
    x = coords[:, 0] * (2 / max(w - 1, 1)) - 1
    y = coords[:, 1] * (2 / max(h - 1, 1)) - 1
    grid = torch.stack([x, y], dim=-1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def inside(coords, h, w):
    """`(B, 1, H', W')` mask: pixel positions `coords (B, 2, H', W')` within an `h x w` image."""
    x, y = coords[:, :1], coords[:, 1:]
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


def warp(img, flow):
    """Backward warp: `out[y, x] = img[y + v, x + u]` for `flow (B, 2, H, W) = (u, v)`.

    With `img` = frame 2 and the flow from frame 1 to frame 2, `out` reproduces frame 1.
    Returns (warped `(B, C, H, W)`, mask `(B, 1, H, W)` of the pixels that sample inside `img`)."""
    b, _, h, w = flow.shape
    coords = pixel_grid(b, h, w, flow.device, flow.dtype) + flow
    return sample(img, coords), inside(coords, *img.shape[-2:])


def disparity_to_flow(disp, sign=-1.0):
    """Horizontal flow `(B, 2, H, W)` of a disparity map `(B, 1, H, W)` in pixels.

    For a rectified pair, a left-image pixel `x` is seen at `x - d` in the right image
    (`sign=-1`, the default); use `sign=+1` for a right-image disparity looked up in the left."""
    return torch.cat([sign * disp, torch.zeros_like(disp)], dim=1)


def depth_pose_flow(depth, K, R, t):
    """Flow `(B, 2, H, W)` induced by depth and relative pose: where each frame-1 pixel lands in
    frame 2 (`X2 = R X1 + t`, both frames with intrinsics `K (B, 3, 3)`), minus its position.

    `depth (B, 1, H, W)` is the camera z of frame 1; `R (B, 3, 3)`, `t (B, 3)`. Points that end
    up behind camera 2 get a huge flow, so that they fall outside the image (`inside`)."""
    b, _, h, w = depth.shape
    pix = pixel_grid(b, h, w, depth.device, depth.dtype)
    hom = torch.cat([pix, torch.ones_like(pix[:, :1])], dim=1).reshape(b, 3, -1)
    rays = torch.linalg.solve(K, hom)
    X2 = R @ (rays * depth.reshape(b, 1, -1)) + t[:, :, None]
    x2 = K @ X2
    z = x2[:, 2:3]
    front = z > 1e-6
    proj = x2[:, :2] / torch.where(front, z, torch.ones_like(z))
    proj = torch.where(front, proj, torch.full_like(proj, -1e6))
    return proj.reshape(b, 2, h, w) - pix
